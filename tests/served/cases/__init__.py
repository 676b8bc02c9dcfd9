"""What the served layer drives for each tool: one `ToolCase` per tool, in its own module.

The list is explicit (STYLE: no discovery by naming convention); `test_tools` checks that it
covers every API-key tool of the registry.
"""

from __future__ import annotations

from tests.served.cases import elasticsearch, web_api
from tests.served.cases.base import ToolCase

# group A imports
# group B imports

CASES: tuple[ToolCase, ...] = (
    elasticsearch.CASE,
    web_api.CASE,
    # group A cases
    # group B cases
)
