"""The template decoding engine of the Avro batch fast path, shared by both record types.

1. Uniform: payloads of one length are checked against the templates learned for that length
   (an [N, length] byte comparison; numbers read with one view).
2. Ragged: what is left is walked at once through the ragged templates (records whose leading
   dims differ, e.g. recommender [n, 1] tensors).
3. Learning: the first record still left is decoded generically and both kinds of template are
   learned from it (a few times per call); then steps 1–2 repeat for the rest.
Whatever no template matches comes back as leftover indices for the generic codec. Learned
templates live in small bounded caches shared by all calls. A record type plugs in as a
:class:`Kind` (``request_decoding.REQUESTS``, ``result_decoding.RESULTS``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from inferstream.tensors.avro.grouping import BoundedCache, split_by
from inferstream.tensors.avro.ragged import RaggedMatch, RaggedTemplate
from inferstream.tensors.avro.records import ServingResult, SourceRequest
from inferstream.tensors.avro.stacked import (
    Int64Array,
    RecordFailure,
    ServingResultGroup,
    SourceRequestGroup,
    StackedTensor,
)
from inferstream.tensors.avro.templates import FIXED_WIDTH, Gap, NotTemplatable, Slot, SlotKey, Template
from inferstream.tensors.tensor import Tensor, TensorCodecError

MAX_LEARN_PER_CALL = 4  # records decoded to learn templates from, per call (corrupt ones do not count)
MAX_TEMPLATES = 256  # payload lengths with uniform templates; a full cache is emptied
MAX_TEMPLATES_PER_LENGTH = 8
MAX_RAGGED = 16  # ragged templates, most recently learned first
MAX_BORROWED = 2  # prefix templates of other lengths tried for a length with none of its own

U8 = npt.NDArray[np.uint8]
R = TypeVar("R", SourceRequest, ServingResult)
G = TypeVar("G", SourceRequestGroup, ServingResultGroup)


@dataclass
class Uniform:
    template: Template
    constants: Any  # what the constant bytes decode to (e.g. expected outputs and datatype)
    tensor_bytes: int  # the largest tensor (or announced output) of a record, against the size limit


@dataclass
class Ragged:
    template: RaggedTemplate
    constants: Any


@dataclass
class Caches:
    uniform: BoundedCache[int, list[Uniform]]
    ragged: list[Ragged]

    def remember(self, length: int, uniform: Uniform | None, ragged: Ragged | None) -> None:
        if uniform is not None:
            same_length = self.uniform.get(length) or self.uniform.put(length, [])
            same_length.insert(0, uniform)
            del same_length[MAX_TEMPLATES_PER_LENGTH:]
        if ragged is not None:
            self.ragged.insert(0, ragged)
            del self.ragged[MAX_RAGGED:]

    def borrow(self, length: int) -> list[Uniform]:
        """Prefix templates learned at other payload lengths, kept for ``length`` too: a record
        type whose tail varies in length (a ServingResult's duration varint) has one tensor layout
        over several lengths. Without this, a length first met after the ragged template existed
        never got a uniform template and took the costly ragged walk for good."""
        seen: dict[int, Uniform] = {}
        for templates in self.uniform.values():
            for learned in templates:
                if learned.template.length < length:
                    seen.setdefault(id(learned.template), learned)
        borrowed = list(seen.values())[:MAX_BORROWED]
        if borrowed:
            self.uniform.put(length, borrowed)
        return borrowed


@dataclass
class Kind(Generic[R, G]):
    """How one record type is learned and emitted."""

    caches: Caches
    learn: Callable[[bytes, int], tuple[Uniform | None, Ragged | None, R | TensorCodecError]]
    # (template, payload indices, [N, length] rows, payloads) -> (group or None, indices it gave back)
    emit_uniform: Callable[[Uniform, Int64Array, U8, Sequence[bytes]], tuple[G | None, Int64Array]]
    # (template, payload indices, flat buffer, walk, hits: positions in the walk, walk starts, payloads)
    emit_ragged: Callable[
        [Ragged, Int64Array, U8, RaggedMatch, Int64Array, Int64Array, Sequence[bytes]],
        tuple[G | None, Int64Array],
    ]
    whole: bool  # the layout covers the whole record (no tail)


@dataclass
class Outcome(Generic[R, G]):
    groups: list[G]
    decoded: list[tuple[int, R]]  # decoded generically while learning
    failures: list[RecordFailure]
    leftover: list[int]  # for the generic codec


def decode(kind: Kind[R, G], payloads: Sequence[bytes], max_bytes: int) -> Outcome[R, G]:
    """Uniform pass, ragged pass, then learn from what is left (see the module docstring)."""
    n = len(payloads)
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=n)
    out: Outcome[R, G] = Outcome([], [], [], [])
    rest = _uniform_pass(kind, payloads, lengths, np.arange(n, dtype=np.int64), max_bytes, out, None)
    rest = _ragged_pass(kind, payloads, lengths, rest, max_bytes, out, kind.caches.ragged)
    budget = MAX_LEARN_PER_CALL
    while rest.size and budget:
        first = int(rest[0])
        uniform, ragged, value = kind.learn(payloads[first], max_bytes)
        if isinstance(value, TensorCodecError):
            out.failures.append(RecordFailure(first, value))
            rest = rest[1:]
            continue
        budget -= 1
        kind.caches.remember(len(payloads[first]), uniform, ragged)
        if uniform is not None:
            rest = _uniform_pass(kind, payloads, lengths, rest, max_bytes, out, [uniform])
        if ragged is not None:
            rest = _ragged_pass(kind, payloads, lengths, rest, max_bytes, out, [ragged])
        if rest.size and rest[0] == first:  # no template took it: the generic result stands
            out.decoded.append((first, value))
            rest = rest[1:]
    out.leftover = rest.tolist()
    return out


def _uniform_pass(
    kind: Kind[R, G],
    payloads: Sequence[bytes],
    lengths: Int64Array,
    indices: Int64Array,
    max_bytes: int,
    out: Outcome[R, G],
    only: list[Uniform] | None,
) -> Int64Array:
    """Match ``indices`` against uniform templates (``only`` these, else the cached ones per length)."""
    left: list[Int64Array] = []
    # a length shared by few records of a ragged stream is cheaper in the one ragged walk
    small = len(indices) // 4 if only is None and kind.caches.ragged else 0
    for part in split_by(lengths[indices]):
        idx = indices[part]
        length = int(lengths[idx[0]])
        if len(idx) < small:
            left.append(idx)
            continue
        if only is not None:
            templates = only
        elif (cached := kind.caches.uniform.get(length)) is not None:
            templates = cached
        else:  # a prefix layout may have been learned at another length
            templates = [] if kind.whole else kind.caches.borrow(length)
        candidates = [t for t in templates if t.tensor_bytes <= max_bytes and _fits(kind, t.template, length)]
        if not candidates:
            left.append(idx)
            continue
        chosen = payloads if len(idx) == len(payloads) else [payloads[i] for i in idx.tolist()]
        rows = np.frombuffer(b"".join(chosen), dtype=np.uint8).reshape(len(idx), length)
        pending = np.arange(len(idx))
        for learned in candidates:
            view = rows if len(pending) == len(idx) else rows[pending]
            ok = learned.template.matches(view[:, : learned.template.length])
            if ok.any():
                group, unmatched = kind.emit_uniform(learned, idx[pending[ok]], view[ok], payloads)
                if group is not None:
                    out.groups.append(group)
                left.append(unmatched)
                pending = pending[~ok]
            if not pending.size:
                break
        left.append(idx[pending])
    return np.sort(np.concatenate(left)) if left else np.zeros(0, dtype=np.int64)


def _fits(kind: Kind[R, G], template: Template, length: int) -> bool:
    """A whole-record template has the payload's length; a prefix leaves room for the tail."""
    return template.length == length if kind.whole else template.length < length


def _ragged_pass(
    kind: Kind[R, G],
    payloads: Sequence[bytes],
    lengths: Int64Array,
    indices: Int64Array,
    max_bytes: int,
    out: Outcome[R, G],
    templates: list[Ragged],
) -> Int64Array:
    """Walk ``indices`` through ragged templates, all records at once per template."""
    if not indices.size or not templates:
        return indices
    buf = np.frombuffer(b"".join([payloads[i] for i in indices.tolist()]), dtype=np.uint8)
    ends = np.cumsum(lengths[indices])
    starts = ends - lengths[indices]
    pending = np.arange(len(indices))
    left: list[Int64Array] = []
    for learned in list(templates):
        match = learned.template.walk(buf, starts[pending], ends[pending], max_bytes, kind.whole)
        hits = np.flatnonzero(match.ok)
        if hits.size:
            walked = starts[pending]
            group, unmatched = kind.emit_ragged(
                learned, indices[pending[hits]], buf, match, hits, walked, payloads
            )
            if group is not None:
                out.groups.append(group)
            left.append(unmatched)
            pending = pending[~match.ok]
        if not pending.size:
            break
    left.append(indices[pending])
    return np.sort(np.concatenate(left))


def render_one(template: Template, tensors: Mapping[SlotKey, Tensor], text: bytes = b"") -> bytes:
    """One record's bytes as ``template`` writes them: a learned template is kept only if this
    gives back the very payload it was learned from."""
    def fill(slot: Gap) -> U8:
        if not isinstance(slot, Slot):  # the datatype's StringSlot (VarintSlots are not decoded)
            return np.frombuffer(text, dtype=np.uint8).reshape(1, -1)
        tensor = tensors[slot.key]
        wire = np.ascontiguousarray(tensor.data, dtype=FIXED_WIDTH[tensor.dtype])
        return wire.view(np.uint8).reshape(1, -1)

    return template.render(1, fill)[0]


def keyed(inputs: Mapping[str, Tensor], outputs: Mapping[str, Tensor]) -> dict[SlotKey, Tensor]:
    """Tensors by template slot key: ``("inputs", name)`` / ``("outputs", name)``."""
    return {
        **{("inputs", k): v for k, v in inputs.items()},
        **{("outputs", k): v for k, v in outputs.items()},
    }


def sections(stacks: Mapping[SlotKey, StackedTensor], section: str) -> dict[str, StackedTensor]:
    """The stacks of one section (``inputs`` or ``outputs``), by tensor name."""
    return {name: s for (sec, name), s in stacks.items() if sec == section}


def learner(
    decode_one: Callable[[bytes, int], R],
    uniform_of: Callable[[R, bytes], Uniform | None],
    ragged_of: Callable[[R], Ragged],
) -> Callable[[bytes, int], tuple[Uniform | None, Ragged | None, R | TensorCodecError]]:
    """A Kind's ``learn``: decode one record generically, then learn its uniform template (None
    when the payload was written differently from how the template writes it) and, only then,
    its ragged one. A layout that cannot be templated gives no template; the record stands."""

    def learn(payload: bytes, max_bytes: int) -> tuple[Uniform | None, Ragged | None, R | TensorCodecError]:
        try:
            record = decode_one(payload, max_bytes)
        except TensorCodecError as exc:
            return None, None, exc
        try:
            uniform = uniform_of(record, payload)
        except NotTemplatable:
            return None, None, record
        if uniform is None:
            return None, None, record
        try:
            return uniform, ragged_of(record), record
        except NotTemplatable:
            return uniform, None, record

    return learn
