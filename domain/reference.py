"""Case references officers can read aloud: GA-<year>-<8 characters of the case id in base32>."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime


def case_reference(case_id: str, filed_at: datetime) -> str:
    code = base64.b32encode(uuid.UUID(case_id).bytes[:5]).decode()
    return f"GA-{filed_at.year}-{code}"
