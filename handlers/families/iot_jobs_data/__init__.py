"""AWS IoT Jobs Data Plane (openapi/iot-jobs-data.yaml): the device's side of the IoT jobs. It
owns no table: things, jobs and executions are the IoT family's, so what an operator does
through openapi/iot.yaml a device sees here, and the other way round."""
from __future__ import annotations

from cancelgate.families.family import Family
from cancelgate.families.iot import EXECUTIONS, JOBS, THINGS  # noqa: F401  (the shared tables)

FAMILY = Family(name="iot-jobs-data", tables=())
