"""What RQ writes to enqueue a job, recorded once per process and replayed per delivery.

``Queue.create_job`` + ``Queue.enqueue_job`` cost tens of microseconds per job and send ~50
arguments to Redis, almost all of them the same for every job of one function and options. A
``JobTemplate`` records those commands once, for a sentinel job, and keeps only what changes per
job as holes: the job id (also inside the job's key), the data blob (``zlib`` of the serialized
``(func_name, None, args, {})``, exactly as ``Job.data`` / ``Job.to_dict``), the description and
the two timestamps (``created_at``, ``enqueued_at``). The result is a normal RQ job: a worker runs
it and ``Job.fetch`` reads it as one made by ``Queue.create_job``.

The template checks itself when built: it records a second sentinel job with other values and
requires that filling the holes reproduces RQ's commands byte for byte (timestamps aside). When
RQ writes anything else that varies per job, ``TemplateError`` is raised and the caller keeps
using RQ itself.

``lua_block()`` renders the commands as Lua (constants inlined, holes read from ``ARGV``), so a
script replays them with only the holes sent per call.
"""
from __future__ import annotations

import zlib
from typing import Any, Callable, Sequence

from rq import Queue
from rq.job import Job
from rq.utils import now, utcformat

_IDS = ("tgtemplate-sentinel-a", "tgtemplate-sentinel-b")
_DESCRIPTIONS = ("tgtemplate description a", "tgtemplate description b")
_ARGS = ({"tgtemplate": "a"}, {"tgtemplate": "b", "n": [1]})
_TIMESTAMPS = ("created_at", "enqueued_at")

# hole kinds
JOB_ID, JOB_KEY, DATA, DESCRIPTION, STAMP = "job_id", "job_key", "data", "description", "stamp"


class TemplateError(Exception):
    """RQ writes something per job that the template cannot reproduce."""


def _record(queue: Queue, func: Callable[..., Any], job_id: str, description: str, arg: Any,
            options: dict[str, Any]) -> list[list[Any]]:
    job = queue.create_job(func, args=[arg], job_id=job_id, description=description, **options)
    pipe = queue.connection.pipeline(transaction=False)
    try:
        queue.enqueue_job(job, pipeline=pipe)
        return [list(args) for args, _options in pipe.command_stack]
    finally:
        pipe.reset()


class JobTemplate:
    """The enqueue commands of ``func`` jobs with ``options`` (``Queue.create_job`` keywords,
    ``retry`` a factory called per recording) on ``queue``."""

    def __init__(self, queue: Queue, func: Callable[..., Any], **options: Any):
        self.queue = queue
        self.serializer = queue.serializer
        self.prefix = Job.redis_job_namespace_prefix
        encode = queue.connection.get_encoder().encode
        retry = options.pop("retry", None)

        def record(i: int) -> list[list[Any]]:
            opts = dict(options, retry=retry() if callable(retry) else retry)
            return _record(queue, func, _IDS[i], _DESCRIPTIONS[i], _ARGS[i], opts)

        first = record(0)
        self.func_name = Job.create(func, args=[None], connection=queue.connection).func_name
        # each argument: ("const", bytes) or (hole kind, None)
        self.commands: list[list[tuple[str, bytes | None]]] = []
        for args in first:
            row: list[tuple[str, bytes | None]] = []
            for i, arg in enumerate(args):
                name = args[i - 1] if args[0] in ("HSET", "HMSET") and i >= 3 and i % 2 == 1 else None
                row.append(self._classify(arg, name, encode))
            self.commands.append(row)
        second = record(1)
        self._check(second, 1, encode)
        self._check(first, 0, encode)

    def _classify(self, arg: Any, name: Any, encode) -> tuple[str, bytes | None]:
        if name in _TIMESTAMPS:
            return STAMP, None
        if name == "data":
            return DATA, None
        if name == "description" and arg == _DESCRIPTIONS[0]:
            return DESCRIPTION, None
        if arg == _IDS[0]:
            return JOB_ID, None
        if arg == self.prefix + _IDS[0]:
            return JOB_KEY, None
        value = encode(arg)
        if _IDS[0].encode() in value or _DESCRIPTIONS[0].encode() in value:
            raise TemplateError(f"the job id or description inside {value[:60]!r}")
        return "const", value

    def _check(self, recorded: list[list[Any]], i: int, encode) -> None:
        """Filling the holes with sentinel ``i``'s values must give what RQ recorded for it."""
        data = self.data([_ARGS[i]])
        filled = self.fill(_IDS[i], data, _DESCRIPTIONS[i], None)
        if len(filled) != len(recorded):
            raise TemplateError("RQ records a different number of commands per job")
        for ours, theirs, row in zip(filled, recorded, self.commands):
            if len(ours) != len(theirs):
                raise TemplateError(f"{theirs[0]}: a different number of arguments per job")
            for a, b, (kind, _) in zip(ours, theirs, row):
                if kind == STAMP:
                    continue
                if a != encode(b):
                    raise TemplateError(f"{theirs[0]}: {b!r:.60} is not {a!r:.60}")

    def data(self, args: Sequence[Any]) -> bytes:
        """The job's ``data`` field, as ``Job.to_dict`` writes it."""
        return zlib.compress(self.serializer.dumps((self.func_name, None, args, {})))

    @staticmethod
    def stamp() -> str:
        return utcformat(now())

    def fill(self, job_id: str, data: bytes, description: str, stamp: str | None) -> list[list[bytes]]:
        """The commands for one job (``stamp`` None: the current time)."""
        stamp_b = (stamp or self.stamp()).encode()
        values = {JOB_ID: job_id.encode(), JOB_KEY: (self.prefix + job_id).encode(), DATA: data,
                  DESCRIPTION: description.encode(), STAMP: stamp_b}
        return [[value if kind == "const" else values[kind] for kind, value in row]
                for row in self.commands]

    def lua_block(self, holes: dict[str, str], indent: str = "    ") -> str:
        """Lua statements replaying the commands; ``holes`` maps each hole kind to a Lua
        expression (``{"job_id": "jid", "job_key": "ARGV[5] .. jid", ...}``)."""
        lines = []
        for row in self.commands:
            parts = [_lua_string(value) if kind == "const" else holes[kind] for kind, value in row]
            lines.append(f"{indent}redis.call({', '.join(parts)})")
        return "\n".join(lines)


def _lua_string(value: bytes) -> str:
    out = []
    for byte in value:
        char = chr(byte)
        if 32 <= byte < 127 and char not in "\"\\":
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'
