"""A case's evidence pack: a ZIP an auditor checks alone (`infra/evidence_check.py`, also inside it).

Files (the manifest lists every other one with its sha256 and size, and is signed with the audit key):

| file | holds |
|---|---|
| `events.jsonl` | the case's audit events, one canonical JSON object per line, by seq, exactly as stored |
| `checkpoints.json` | `{"checkpoints": [...]}`: each checkpoint that first held one of the case's heads, and |
|  | the latest, with that head and its inclusion proof (`{"index", "path"}`) |
| `keys.json` | `{"keys": [...]}`: the public keys (as `GET /api/audit/keys`) |
| `access.jsonl` | the case's access log (who was shown its personal data), one canonical JSON object per line, |
|  | oldest first, as `GET /api/audit/export?access=true` writes its rows; not in the hash chain (`README.txt`) |
| `timeline.html` | the case's events and its access log as a readable page, for auditors who do not read JSON |
| `README.txt` | what each file is and what it proves, the access log's limits included |
| `check_pack.py` | the standalone checker |
| `manifest.json` | `{format, case_id, created_at, events, head_hash, access_entries, files, key_id, signature}`, |
|  | canonical JSON |
"""

from __future__ import annotations

import html
import io
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import AuditEntry, canonical_json, canonical_time
from domain.checkpoints import inclusion_proof
from domain.signing import AuditKeys
from infra.access_log import case_access
from infra.audit_tables import audit_checkpoint_heads
from infra.audit_trail import stored_entries
from infra.db import session_factory
from infra.evidence_check import ACCESS, CHECKPOINTS, EVENTS, KEYS, MANIFEST, MANIFEST_CONTEXT, sha256
from infra.stored_checkpoints import stored_checkpoint, stored_heads

FORMAT = "case-desk-evidence/2"  # 2: with the access log (`access.jsonl`)
CHECKER = Path(__file__).with_name("evidence_check.py")


async def covering_checkpoints(engine: AsyncEngine, case_id: str) -> list[dict[str, Any]]:
    """The checkpoints that first held each of the case's heads, and the latest one, each with its proof."""
    async with engine.connect() as conn:
        held = (await conn.execute(
            select(audit_checkpoint_heads.c.checkpoint_id, audit_checkpoint_heads.c.position,
                   audit_checkpoint_heads.c.seq)
            .where(audit_checkpoint_heads.c.case_id == case_id).order_by(audit_checkpoint_heads.c.checkpoint_id)
        )).all()
        chosen = {(row.checkpoint_id, row.position) for row in {row.seq: row for row in reversed(held)}.values()}
        chosen |= {(held[-1].checkpoint_id, held[-1].position)} if held else set()
        covering = []
        for checkpoint_id, position in sorted(chosen):
            checkpoint, heads = await stored_checkpoint(conn, checkpoint_id), await stored_heads(conn, checkpoint_id)
            proof = {"index": position, "path": inclusion_proof([h.leaf() for h in heads], position)}
            covering.append({**checkpoint.model_dump(mode="json"), "head": heads[position].model_dump(),
                             "proof": proof})
    return covering


README = """Evidence pack of case {case_id}, packed {created_at} by the Global Alliance Case Desk.

Check it with: python check_pack.py THIS.zip [--key HEX]   (Python 3.11+ and `cryptography`; no network)

events.jsonl      the case's audit events as stored: a hash chain, each event signed (Ed25519); one from
                  before signing began is unsigned, and valid only if a checkpoint below holds it
checkpoints.json  the signed checkpoints that hold the case's heads, with their inclusion proofs
keys.json         the public keys (compare their ids with GET /api/audit/keys, or pass --key)
access.jsonl      the case's access log: who was shown its personal data, when, which fields, which route
timeline.html     the events and the access log as a readable page
check_pack.py     the checker
manifest.json     every file's sha256 and size, the counts and the head hash; signed with the audit key

What the access log proves, and what it does not: its rows are not links of the hash chain and are not
signed one by one. The signed manifest covers access.jsonl (its sha256, size and row count), so the check
proves that these rows, exactly these, were exported with this pack at {created_at}; changing, adding or
removing any of them fails the check. It does not prove that the log is complete: a row removed from the
database before packing (the table is append-only and kept for the retention period, but its owner can still
remove rows) would not be missed, and rows older than the retention period have been deleted. Its own export
is logged after the pack is made, so it is in the next pack, not in this one.
"""


def timeline(case_id: str, entries: list[AuditEntry], access: list[dict[str, Any]], now: datetime) -> str:
    """The events and the access log as a plain HTML page: when, what, who, the stage, and what was said; who
    was shown which personal data, when and through which route."""
    rows = "\n".join(
        "<tr><td>{seq}</td><td>{at}</td><td>{type}</td><td>{who}</td><td>{stage}</td><td>{payload}</td></tr>".format(
            seq=e.seq, at=html.escape(canonical_time(e.at)), type=html.escape(e.type),
            who=html.escape(" · ".join(filter(None, (e.actor.get("name"), e.actor.get("role"), e.actor.get("org"))))),
            stage=html.escape(f"{e.stage_before or '—'} → {e.stage_after}"),
            payload=html.escape(canonical_json(e.full_payload())),
        )
        for e in entries
    )
    shown = "\n".join(
        "<tr><td>{at}</td><td>{who}</td><td>{fields}</td><td>{smes}</td><td>{route}</td></tr>".format(
            at=html.escape(str(a["at"])),
            who=html.escape(" · ".join(filter(None, (a["person_name"], a["role"], a["org"], a["person_id"])))),
            fields=html.escape(", ".join(a["fields"])), smes=html.escape(", ".join(a["sme_ids"])),
            route=html.escape(a["route"]),
        )
        for a in access
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Case {html.escape(case_id)}: timeline</title>
<style>body{{font-family:sans-serif}}td,th{{border:1px solid #999;padding:4px;vertical-align:top}}
table{{border-collapse:collapse}}td:last-child{{font-family:monospace;font-size:small}}</style></head>
<body><h1>Case {html.escape(case_id)}</h1>
<p>{len(entries)} audit event(s), packed {html.escape(canonical_time(now))}. The signed record is
<code>events.jsonl</code>; check the pack with <code>python check_pack.py</code> on this ZIP.</p>
<table><caption>Timeline, oldest first</caption>
<tr><th>seq</th><th>at (UTC)</th><th>event</th><th>by</th><th>stage</th><th>what was recorded</th></tr>
{rows}
</table>
<h2>Who was shown this case's personal data</h2>
<p>{len(access)} row(s) of the access log, exported with this pack (<code>access.jsonl</code>). They are not
part of the hash chain: the signed manifest proves they were exported with the pack, not that the log is
complete (see <code>README.txt</code>).</p>
<table><caption>Access log, oldest first</caption>
<tr><th>at (UTC)</th><th>who</th><th>fields</th><th>SMEs</th><th>route</th></tr>
{shown}
</table></body></html>
"""


async def evidence_pack(engine: AsyncEngine, case_id: str, keys: AuditKeys, now: datetime) -> bytes:
    """The ZIP of the case's evidence (see the module's table), its manifest signed with `keys.signer`."""
    entries = await stored_entries(session_factory(engine), case_id)
    access = await case_access(engine, case_id)
    files = {
        EVENTS: "".join(canonical_json(e.model_dump(mode="json")) + "\n" for e in entries).encode(),
        CHECKPOINTS: canonical_json({"checkpoints": await covering_checkpoints(engine, case_id)}).encode(),
        KEYS: canonical_json({"keys": keys.keyring.published()}).encode(),
        ACCESS: "".join(canonical_json(row) + "\n" for row in access).encode(),
        "timeline.html": timeline(case_id, entries, access, now).encode(),
        "README.txt": README.format(case_id=case_id, created_at=canonical_time(now)).encode(),
        "check_pack.py": CHECKER.read_bytes(),
    }
    body = {
        "format": FORMAT, "case_id": case_id, "created_at": canonical_time(now), "events": len(entries),
        "head_hash": entries[-1].hash if entries else "0" * 64, "access_entries": len(access),
        "files": {name: {"sha256": sha256(data), "bytes": len(data)} for name, data in files.items()},
    }
    manifest = {**body, "key_id": keys.signer.key_id,
                "signature": keys.signer.sign(MANIFEST_CONTEXT, sha256(canonical_json(body).encode()))}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as pack:
        for name, data in {**files, MANIFEST: canonical_json(manifest).encode()}.items():
            pack.writestr(name, data)
    return buffer.getvalue()
