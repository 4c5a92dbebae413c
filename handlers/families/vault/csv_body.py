"""Cancel Job's CSV body (`Content-Type: text/csv`): a `job_id` header row, one id per row.

Read strictly: UTF-8 only, a leading byte-order mark (Excel writes one) dropped, ids of ASCII
digits only (str.isdigit() also holds for "²" and "١"), and a field over the csv module's limit
refused; each problem is INVALID_DATA, never an unexpected error."""
from __future__ import annotations

import csv
import io

from cancelgate.errors import ApiError


def job_ids(body) -> list[dict]:
    """The body's ids as Cancel Job's JSON list would give them ([{"job_id": ...}, ...]); an id
    that is not an ASCII number is passed on as text for the spec's schema to refuse."""
    if isinstance(body, (bytes, bytearray)):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as error:
            raise ApiError("INVALID_DATA", f"CSV body is not valid UTF-8 (byte {error.start})") from None
    else:
        text = str(body or "")
    text = text.removeprefix("\ufeff")
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise ApiError("INVALID_DATA", f"CSV body cannot be read: {error}") from None
    header = [cell.strip() for cell in rows[0]] if rows else []
    if "job_id" not in header:
        raise ApiError("PARAMETER_REQUIRED", "Missing required parameter [job_id]: the CSV needs a job_id header")
    column = header.index("job_id")
    items = []
    for row in rows[1:]:
        cell = row[column].strip() if column < len(row) else ""
        # at most 18 digits: an int64, and far below Python's limit on converting digit strings
        number = cell.isascii() and cell.isdigit() and len(cell) <= 18
        items.append({"job_id": int(cell) if number else cell})
    return items
