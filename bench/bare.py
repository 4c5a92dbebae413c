"""The floor: a bare Starlette endpoint answering `{}`, served by the same uvicorn settings."""
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def cancel(_request):
    return JSONResponse({})


app = Starlette(routes=[Route("/{path:path}", cancel, methods=["POST", "PUT"])])
