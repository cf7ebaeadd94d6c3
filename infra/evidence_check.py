#!/usr/bin/env python3
"""Check a Case Desk evidence pack alone: no database, no network, only Python 3.11+ and `cryptography`.

    python evidence_check.py case-<id>-evidence.zip [--key HEX ...]

(the same file is in every pack as `check_pack.py`; `alliance audit check-pack FILE` runs it too). Exit status 0
and `OK …` when the pack holds; 1 and one line per problem, each saying where (file, line, event, checkpoint).

What it checks, from the pack's own files:
* `manifest.json` is canonical JSON whose `signature` (Ed25519 over ``case-desk/evidence-manifest/v1:`` +
  sha256 of the canonical manifest without `key_id`/`signature`) holds under a key of `keys.json`, and every other
  file's sha256 and size are the manifest's; no file is missing, extra or in the ZIP twice;
* `events.jsonl`: one event per line, seq 1, 2, 3…: each one's `prev_hash` is the hash before it (64 zeros
  first), `hash = sha256(prev_hash + canonical JSON of {case_id, seq, type, actor, at, stage_before,
  stage_after, payload} (+ personal_digest from hash version 2))`, personal data matches its salted digest, an
  erasure is recorded by a later `personal_data_redacted` event, and each signature (``case-desk/audit-event/v1:``
  + hash) holds under `key_id` (events from before signing are counted as unsigned: each must be held by a
  checkpoint of the pack, else it fails, naming its seq);
* `checkpoints.json`: each checkpoint's digest (sha256 of canonical JSON {at, cases, id, prev, root}, and
  verified: true for a verified one) and
  signature (``case-desk/audit-checkpoint/v1:`` + digest) hold, the case's head it holds is an event of the pack,
  and the inclusion proof leads from that head's leaf to the signed root (RFC 6962 hashing);
* `access.jsonl` (packs of format 2 on): one access-log row per line, each of the case, as many as the manifest's
  `access_entries`. The rows are not in the hash chain: the signed manifest proves they were exported with the
  pack, exactly so, not that the log is complete (`README.txt` in the pack).

`--key` pins the public keys you trust (from `GET /api/audit/keys`, or your own records): without it the pack's
`keys.json` is trusted, so compare its key ids with the ones the Case Desk publishes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS = "0" * 64
EVENT_CONTEXT = b"case-desk/audit-event/v1:"
CHECKPOINT_CONTEXT = b"case-desk/audit-checkpoint/v1:"
MANIFEST_CONTEXT = b"case-desk/evidence-manifest/v1:"
REDACTION_EVENT = "personal_data_redacted"
MANIFEST, EVENTS, CHECKPOINTS, KEYS = "manifest.json", "events.jsonl", "checkpoints.json", "keys.json"
ACCESS = "access.jsonl"
ACCESS_FIELDS = ("id", "at", "person_id", "person_name", "role", "org", "case_id", "sme_ids", "fields", "route")


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_time(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).isoformat(timespec="microseconds")


# The rules below are `domain.signing`'s and `domain.checkpoints`' written out again, not imported: this file must
# run alone, where the Case Desk is not installed (tests/e2e/test_evidence_pack.py checks the two agree).


class Keys:
    def __init__(self, publics: list[str]) -> None:
        self.keys: dict[str, Ed25519PublicKey] = {}
        for hex_key in publics:
            raw = bytes.fromhex(hex_key)
            self.keys[sha256(raw)[:16]] = Ed25519PublicKey.from_public_bytes(raw)

    def problem(self, context: bytes, message: str, key_id: Any, signature: Any) -> str | None:
        if key_id is None or signature is None:
            return "it is not signed"
        key = self.keys.get(key_id)
        if key is None:
            return f"it is signed with key {key_id}, which is not a trusted key"
        try:
            key.verify(bytes.fromhex(signature), context + message.encode())
        except (InvalidSignature, ValueError, TypeError):
            return f"its signature does not hold under key {key_id}"
        return None


def leaf(case_id: str, seq: int, head_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + f"{case_id}:{seq}:{head_hash}".encode()).digest()


def root_from_proof(node: bytes, index: int, size: int, proof: list[str]) -> bytes:
    if size <= 1:
        if proof or index != 0:
            raise ValueError("a proof for a tree of one leaf is empty")
        return node
    if not proof:
        raise ValueError("the proof is too short")
    k = 1 << ((size - 1).bit_length() - 1)
    *inner, sibling = proof
    if index < k:
        return hashlib.sha256(b"\x01" + root_from_proof(node, index, k, inner) + bytes.fromhex(sibling)).digest()
    return hashlib.sha256(b"\x01" + bytes.fromhex(sibling) + root_from_proof(node, index - k, size - k, inner)).digest()


def check_events(lines: list[str], keys: Keys) -> tuple[list[str], list[dict[str, Any]], int]:
    """Problems found in events.jsonl, the events, and how many are unsigned."""
    problems: list[str] = []
    events: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as error:
            return [f"{EVENTS} line {number}: not JSON ({error.msg})"], [], 0
    covered = {seq for e in events if e.get("type") == REDACTION_EVENT
               for seq in e.get("payload", {}).get("events", []) if isinstance(seq, int) and seq < e["seq"]}
    prev, signed, unsigned = GENESIS, False, 0
    for number, event in enumerate(events, start=1):
        where = f"{EVENTS} line {number} (event {event.get('seq')})"
        try:
            fields = {k: event[k] for k in ("case_id", "seq", "type", "actor", "stage_before", "stage_after",
                                            "payload")}
            fields["at"] = canonical_time(event["at"])
            if event.get("hash_version", 1) >= 2:
                fields["personal_digest"] = event.get("personal_digest")
        except (KeyError, ValueError, TypeError) as error:
            problems.append(f"{where}: a field is missing or malformed ({error})")
            break
        personal, salt = event.get("personal"), event.get("personal_salt")
        if event["seq"] != number:
            problems.append(f"{where}: expected event {number} here: an event is missing or out of order")
        elif event.get("prev_hash") != prev:
            problems.append(f"{where}: its prev_hash is not the hash of the event before it")
        elif sha256((prev + canonical(fields)).encode()) != event.get("hash"):
            problems.append(f"{where}: its content does not match its hash: the event was altered")
        elif personal is not None and (salt is None or sha256((salt + canonical(personal)).encode())
                                       != event.get("personal_digest")):
            problems.append(f"{where}: its personal data does not match its digest")
        elif personal is None and event.get("personal_digest") is not None and event["seq"] not in covered:
            problems.append(f"{where}: its personal data was erased, but no redaction is recorded after it")
        elif event.get("signature") is None and event.get("key_id") is None and not signed:
            unsigned += 1
        elif (why := keys.problem(EVENT_CONTEXT, event["hash"], event.get("key_id"), event.get("signature"))):
            problems.append(f"{where}: {why}")
        else:
            signed = True
        if problems:
            break
        prev = event["hash"]
    return problems, events, unsigned


def check_checkpoints(checkpoints: list[dict[str, Any]], events: list[dict[str, Any]], keys: Keys) -> list[str]:
    problems = []
    for number, entry in enumerate(checkpoints, start=1):
        where = f"{CHECKPOINTS} checkpoint {entry.get('id', f'#{number}')}"
        try:
            statement = {"id": entry["id"], "at": canonical_time(entry["at"]), "cases": entry["cases"],
                         "root": entry["root"], "prev": entry["prev"]}
            if entry.get("verified") is True:
                statement["verified"] = True
            head, proof = entry["head"], entry["proof"]
            if sha256(canonical(statement).encode()) != entry["digest"]:
                problems.append(f"{where}: it does not match its digest: it was altered")
            elif (why := keys.problem(CHECKPOINT_CONTEXT, entry["digest"], entry["key_id"], entry["signature"])):
                problems.append(f"{where}: {why}")
            elif not 1 <= head["seq"] <= len(events) or events[head["seq"] - 1]["hash"] != head["head_hash"]:
                problems.append(f"{where}: the head it holds (event {head['seq']}) is not an event of the pack")
            elif root_from_proof(leaf(head["case_id"], head["seq"], head["head_hash"]), proof["index"],
                                 entry["cases"], proof["path"]).hex() != entry["root"]:
                problems.append(f"{where}: its inclusion proof does not lead to its root")
        except (KeyError, ValueError, TypeError) as error:
            problems.append(f"{where}: a field is missing or malformed ({error})")
    return problems


def check_held(events: list[dict[str, Any]], unsigned: int, checkpoints: list[dict[str, Any]], keys: Keys
               ) -> list[str]:
    """The first unsigned event no checkpoint of the pack holds, as a problem (`domain.checkpoints.unheld`,
    written out again): the unsigned events are the first ones (one after a signed event is a break already),
    and each must be held by a checkpoint whose digest, signature, head and proof hold (the furthest head of the
    case among them) — else anyone who can write the table could have written it, or stripped its signature."""
    case_id = events[0].get("case_id") if events else None
    held = max((entry["head"]["seq"] for entry in checkpoints
                if not check_checkpoints([entry], events, keys) and entry["head"].get("case_id") == case_id),
               default=0)
    if unsigned <= held:
        return []
    return [f"{EVENTS} line {held + 1} (event {held + 1}): it is unsigned and not held by any checkpoint of the pack: "
            "not written by the Case Desk"]


def check_access(lines: list[str], case_id: Any, expected: Any) -> list[str]:
    """Problems found in access.jsonl: each line a row of the case's access log, as many as the manifest says."""
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            return [f"{ACCESS} line {number}: not JSON ({error.msg})"]
        if not isinstance(row, dict) or sorted(row) != sorted(ACCESS_FIELDS):
            return [f"{ACCESS} line {number}: not an access-log row (its fields are {', '.join(ACCESS_FIELDS)})"]
        if row["case_id"] != case_id:
            return [f"{ACCESS} line {number}: a row of case {row['case_id']}, not of this pack's case"]
    if len(lines) != expected:
        return [f"{MANIFEST}: its access_entries is not the number of rows of {ACCESS}"]
    return []


def jsonl_lines(data: bytes) -> list[str]:
    """The lines of a JSON Lines file, split at line feeds only: `str.splitlines` would also split at a U+2028 or
    U+2029 that a note's text holds (JSON keeps them unescaped), breaking one event in two."""
    return [line.decode() for line in data.splitlines()]


def check_pack(path: str, trusted: list[str] | None = None) -> tuple[list[str], str]:
    """(problems, summary): no problems means the pack holds."""
    try:
        with zipfile.ZipFile(path) as pack:
            names = [info.filename for info in pack.infolist()]
            files = {info.filename: pack.read(info) for info in pack.infolist()}
    except (OSError, zipfile.BadZipFile) as error:
        return [f"{path}: not a readable ZIP ({error})"], ""
    # Two entries of one name: this reads the last, an unzip tool or file browser may show the first.
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        return [f"{name}: more than once in the ZIP: it was altered" for name in twice], ""
    if MANIFEST not in files:
        return [f"{MANIFEST}: missing"], ""
    try:
        manifest = json.loads(files[MANIFEST])
    except ValueError as error:
        return [f"{MANIFEST}: not JSON ({error}): it was altered"], ""
    if not isinstance(manifest, dict) or canonical(manifest).encode() != files[MANIFEST]:
        return [f"{MANIFEST}: not in canonical form: it was altered"], ""
    body = {k: v for k, v in manifest.items() if k not in ("key_id", "signature")}
    listed = body.get("files", {})
    # Each listed file against the manifest; keys.json first, as the manifest's signature is checked with it.
    altered = [f"{name}: missing" if name not in files else f"{name}: its sha256 is not the manifest's: it was altered"
               for name, expected in sorted(listed.items(), key=lambda item: item[0] != KEYS)
               if name not in files or (sha256(files[name]), len(files[name])) != (expected.get("sha256"),
                                                                                   expected.get("bytes"))]
    altered += [f"{name}: not in the manifest" for name in sorted(files.keys() - {MANIFEST} - listed.keys())]
    try:
        keys = Keys(trusted if trusted is not None else [k["public_key"] for k in json.loads(files[KEYS])["keys"]])
    except (KeyError, ValueError, TypeError) as error:
        return [*altered, f"{KEYS}: not readable ({error})"], ""
    signature = keys.problem(MANIFEST_CONTEXT, sha256(canonical(body).encode()), manifest.get("key_id"),
                             manifest.get("signature"))
    keys_first = [problem for problem in altered if problem.startswith(f"{KEYS}:")]
    problems = [*keys_first, *([f"{MANIFEST}: {signature}"] if signature else []),
                *(problem for problem in altered if problem not in keys_first)]
    if problems:
        return problems, ""
    problems, events, unsigned = check_events(jsonl_lines(files[EVENTS]), keys)
    if not events and not problems:  # every case's trail begins with its event 1 (domain.chain_verification.NO_EVENTS)
        problems = [f"{EVENTS}: it holds no event, but every case's trail begins with event 1: they were removed"]
    try:
        checkpoints = json.loads(files[CHECKPOINTS])["checkpoints"]
    except (KeyError, ValueError) as error:
        return [*problems, f"{CHECKPOINTS}: not readable ({error})"], ""
    problems = [*check_held(events, unsigned, checkpoints, keys), *problems,
                *check_checkpoints(checkpoints, events, keys)]
    access = jsonl_lines(files[ACCESS]) if ACCESS in listed else None
    if access is not None:
        problems += check_access(access, body.get("case_id"), body.get("access_entries"))
    if not problems and (len(events), events[-1]["hash"] if events else GENESIS) != (
            body.get("events"), body.get("head_hash")):
        problems.append(f"{MANIFEST}: its event count or head is not that of {EVENTS}")
    summary = (f"OK case {body.get('case_id')}: {len(events)} event(s) "
               f"({unsigned} from before signing, held by a checkpoint), "
               f"{len(checkpoints)} checkpoint(s), keys {', '.join(sorted(keys.keys))}"
               + (f"; {len(access)} access-log row(s), exported with the pack (not chained: see README.txt)"
                  if access is not None else ""))
    return problems, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1] if __doc__ else None)
    parser.add_argument("pack", help="the evidence pack (ZIP)")
    parser.add_argument("--key", action="append", help="a trusted public key (64 hex characters); repeatable")
    args = parser.parse_args(argv)
    problems, summary = check_pack(args.pack, args.key)
    for problem in problems:
        print(f"FAILED {problem}")  # noqa: T201 - a command-line tool's answer
    if not problems:
        print(summary)  # noqa: T201
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
