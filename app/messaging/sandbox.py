"""Jinja's sandbox with bounds on what one render may build.

The sandbox stops templates reaching Python internals; it does not stop them building
text: ``{{ '%99999999s'|format('x') }}`` made 100 MB and chained ``replace`` 39 million
characters. Here every place where a template can make something big is a hook that
measures first: binary operators (``*``, ``%``, ``+``), ``~`` concatenation, loops, every
filter (inputs and result, and the width, count or predicted size of the filters that
multiply text), every printed value, and the whole output, streamed and cut off past
:data:`MAX_OUTPUT`. Function calls are refused outright (templates never need them; the
save-time check refuses them too). A render also has a step budget and a limit on the
CPU time it may take (its thread's, so a loaded machine does not fail a render that
merely waited for a core).

Exceeding a bound raises :class:`RenderLimit`, a :class:`SecurityError` whose message
names the bound; callers map it to a 422 on the field they rendered.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg
from markupsafe import Markup, escape

#: Characters a render may produce.
MAX_OUTPUT = 1_000_000
#: Size of any one value built while rendering (string length; items of a list, counted
#: with their own sizes).
MAX_VALUE = 1_000_000
#: Characters printed or looped into any buffer during one render (a block ``set`` or a
#: filter block builds text that is not output yet).
MAX_BUILT = 2 * MAX_OUTPUT
#: Width or precision of a ``%`` / ``format`` conversion, ``center`` or ``indent`` width,
#: ``batch`` and ``slice`` counts.
MAX_WIDTH = 1_000
#: Operations and loop iterations per render, and the CPU time of one render (its
#: thread's CPU time: time spent waiting for a core on a loaded machine is not counted).
MAX_STEPS = 1_000_000
MAX_SECONDS = 2.0
#: The clock is read every this many steps (reading it costs more than a step).
CLOCK_EVERY = 64
#: Numbers an arithmetic operator may take (templates write numbers up to 10,000).
MAX_NUMBER = 10_000**2


class RenderLimit(SecurityError):
    """A render that would build more than a bound allows; ``field`` is set by the caller
    that knows which part it was rendering."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _megabytes(chars: int) -> str:
    return f"{chars / 1_000_000:g} MB"


@dataclass
class _Budget:
    steps: int = 0
    built: int = 0
    #: When the render must stop, on its thread's CPU clock (``time.thread_time``), set
    #: at the first reading: a render shorter than ``CLOCK_EVERY`` steps never reads it.
    deadline: float | None = None
    next_clock: int = CLOCK_EVERY

    def tick(self, steps: int = 1) -> None:
        self.steps += steps
        if self.steps > MAX_STEPS:
            raise RenderLimit(f"the template takes more than {MAX_STEPS:,} steps to render")
        if self.steps >= self.next_clock:
            self.next_clock = self.steps + CLOCK_EVERY
            now = time.thread_time()
            if self.deadline is None:
                self.deadline = now + MAX_SECONDS
            elif now > self.deadline:
                raise RenderLimit(
                    f"the template takes longer than {MAX_SECONDS:g} s of CPU time to render"
                )

    def charge(self, chars: int) -> None:
        self.built += chars
        if self.built > MAX_BUILT:
            raise RenderLimit(f"the template builds more than {_megabytes(MAX_BUILT)} of text")


_active: ContextVar[_Budget | None] = ContextVar("decant_render_budget", default=None)


def _budget() -> _Budget:
    """The running render's budget; outside :func:`render_bounded` (compiling, a direct
    ``Template.render``) a fresh one, so the size bounds hold and time is not counted."""
    return _active.get() or _Budget()


def render_bounded(template: Any, context: dict[str, Any]) -> str:
    """Render by streaming, stopping as soon as the output passes :data:`MAX_OUTPUT`."""
    token = _active.set(_Budget())
    try:
        parts: list[str] = []
        total = 0
        for chunk in template.generate(context):
            total += len(chunk)
            if total > MAX_OUTPUT:
                raise RenderLimit(f"the template produces more than {_megabytes(MAX_OUTPUT)}")
            parts.append(chunk)
        return "".join(parts)
    finally:
        _active.reset(token)


# --- measuring ------------------------------------------------------------------------

_CONTAINERS = (list, tuple, dict, set, frozenset)


def measure(value: Any, limit: int = MAX_VALUE) -> int:
    """About how long ``str(value)`` is: a string's length; a container's items each
    counted with their own size (shared items as often as they appear, as ``str`` would
    print them). Stops counting once past ``limit``, so the cost stays bounded."""
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, _CONTAINERS):
        return 1
    total = 0
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, _CONTAINERS):
            total += 2 + 2 * len(item)
            if total > limit:
                return total
            stack.extend(item.values() if isinstance(item, dict) else item)
            if isinstance(item, dict):
                stack.extend(item.keys())
        else:
            total += 4
        if total > limit:
            return total
    return total


def check_size(value: Any, what: str = "a value") -> Any:
    if measure(value) > MAX_VALUE:
        raise RenderLimit(f"the template builds {what} longer than {MAX_VALUE:,} characters")
    return value


def _metered(items: Iterable[Any]) -> Iterator[Any]:
    """``items`` consumed under the budget, refused once their sizes add up past
    :data:`MAX_VALUE` (a lazy ``map`` or ``select`` feeding ``join`` or ``list``)."""
    budget = _budget()
    total = 0
    for item in items:
        budget.tick()
        total += measure(item) + 2
        if total > MAX_VALUE:
            raise RenderLimit(f"the template builds a sequence longer than {MAX_VALUE:,} items")
        yield item


def _loop(items: Any, literal_chars: int) -> Iterator[Any]:
    """A ``for`` loop's items: each iteration is a step and charges the text its body
    writes literally (the printed values are charged when printed)."""
    budget = _budget()
    for item in items:
        budget.tick()
        budget.charge(literal_chars)
        yield item


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}``: a step, and its size charged before it is turned to text."""
    budget = _budget()
    budget.tick()
    size = measure(value, MAX_BUILT)
    if size > MAX_VALUE:
        raise RenderLimit(f"the template prints a value longer than {MAX_VALUE:,} characters")
    budget.charge(size)
    return value


# --- printf-style formatting ------------------------------------------------------------

_CONVERSION = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?"
    r"[hlL]?(?P<type>.)",
    re.DOTALL,
)


def check_printf(template: Any, values: Any) -> None:
    """Refuse a ``%`` format whose widths or precisions pass :data:`MAX_WIDTH`, that
    takes them from the arguments (``*``), or whose result would pass :data:`MAX_VALUE`."""
    fmt = str(template)
    positional = values if isinstance(values, tuple) else (values,)
    mapping = values if isinstance(values, dict) else None
    predicted = len(fmt)
    index = 0
    for match in _CONVERSION.finditer(fmt):
        if match["type"] == "%":
            continue
        for part in ("width", "precision"):
            spec = match[part]
            if spec == "*":
                raise RenderLimit(f"a {part} taken from the arguments ('*') is not allowed")
            if spec and int(spec) > MAX_WIDTH:
                raise RenderLimit(f"a format {part} over {MAX_WIDTH} is not allowed")
            predicted += int(spec or 0)
        if match["key"] is not None and mapping is not None:
            argument = mapping.get(match["key"])
        else:
            argument = positional[index] if index < len(positional) else None
            index += 1
        predicted += measure(argument) + (400 if match["type"] in "fF" else 24)
        if predicted > MAX_VALUE:
            raise RenderLimit(f"the template formats text longer than {MAX_VALUE:,} characters")


# --- filters ----------------------------------------------------------------------------


def _width(value: Any, name: str) -> None:
    if isinstance(value, bool):
        return
    size = len(value) if isinstance(value, str) else value if isinstance(value, int) else 0
    if size > MAX_WIDTH:
        raise RenderLimit(f"a {name} over {MAX_WIDTH} is not allowed")


def _predicted(size: int, what: str) -> None:
    if size > MAX_VALUE:
        raise RenderLimit(f"the template builds {what} longer than {MAX_VALUE:,} characters")


def _pre_format(args: dict[str, Any]) -> None:
    check_printf(args["value"], args["kwargs"] or tuple(args["args"]))


def _pre_center(args: dict[str, Any]) -> None:
    _width(args.get("width", 80), "center width")


def _pre_indent(args: dict[str, Any]) -> None:
    width = args.get("width", 4)
    _width(width, "indent width")
    text = str(args["s"])
    pad = len(width) if isinstance(width, str) else int(width or 0)
    _predicted(len(text) + (text.count("\n") + 1) * pad, "indented text")


def _pre_replace(args: dict[str, Any]) -> None:
    text, old, new = (str(args.get(k, "")) for k in ("s", "old", "new"))
    count = args.get("count")
    times = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    grown = len(str(escape(new))) if isinstance(args["s"], Markup) else len(new)
    _predicted(len(text) + times * max(0, grown - len(old)), "replaced text")


def _pre_wordwrap(args: dict[str, Any]) -> None:
    text = str(args["s"])
    width = args.get("width", 79)
    if not isinstance(width, int) or width < 1:
        raise RenderLimit("a wordwrap width must be a positive number")
    wrap = args.get("wrapstring") or "\n"
    lines = len(text) // width + sum(text.count(c) for c in " \n-") + 1
    _predicted(len(text) + lines * len(str(wrap)), "wrapped text")


def _pre_count(name: str) -> Callable[[dict[str, Any]], None]:
    def check(args: dict[str, Any]) -> None:
        _width(args.get(name, 0), f"{name} count")

    return check


def _pre_sequence(args: dict[str, Any]) -> None:
    """``join`` and ``sum``: the result is about the items' sizes added up."""
    items = args["value"]
    extra = args.get("d") or args.get("start") or ""
    if isinstance(items, _CONTAINERS):
        sizes = measure(items)
        _predicted(sizes + measure(extra) * (len(items) + 1), "joined text")


#: Checks run before the filters that can make something much larger than their input.
_PRECHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "format": _pre_format,
    "center": _pre_center,
    "indent": _pre_indent,
    "replace": _pre_replace,
    "wordwrap": _pre_wordwrap,
    "batch": _pre_count("linecount"),
    "slice": _pre_count("slices"),
    "join": _pre_sequence,
    "sum": _pre_sequence,
}


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` behind the checks: a step, every input measured (lazy ones metered), the
    filter's own pre-check, then its result measured."""
    pass_arg = _PassArg.from_obj(func)
    signature = inspect.signature(func)
    precheck = _PRECHECKS.get(name)
    first = next(iter(signature.parameters), "")
    takes_leading = int(first in ("context", "eval_ctx", "environment"))

    @pass_context
    def bounded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        _budget().tick()
        if isinstance(value, Iterator):
            value = list(_metered(value))
        check_size(value, "a value")
        for argument in (*args, *kwargs.values()):
            check_size(argument, "an argument")
        leading: tuple[Any, ...] = ()
        if pass_arg is _PassArg.context:
            leading = (context,)
        elif pass_arg is _PassArg.eval_context:
            leading = (context.eval_ctx,)
        elif pass_arg is _PassArg.environment:
            leading = (context.environment,)
        if precheck is not None:
            # Async-capable filters show a signature without the context they are passed.
            bound = signature.bind(*leading[:takes_leading], value, *args, **kwargs)
            bound.apply_defaults()
            precheck({**bound.arguments, "value": value, "s": value})
        result = func(*leading, value, *args, **kwargs)
        if isinstance(result, Iterator):
            return _metered(result)
        return check_size(result, f"a value (|{name})")

    bounded.__name__ = f"bounded_{name}"
    return bounded


@pass_context
def _escaped_safe(context: Context, value: Any) -> Any:
    """``|safe`` without its effect: a value is escaped where it lands whatever the template
    says. Saving a template that uses it is refused; this covers ones saved before."""
    return escape(value) if context.eval_ctx.autoescape else value


# --- compiled code ---------------------------------------------------------------------


#: The filter every ``for`` loop's iterable is routed through (see the code generator).
LOOP_FILTER = "_bounded_loop"


@pass_context  # never folded into a constant at compile time
def _loop_filter(context: Context, items: Any, literal_chars: int) -> Iterator[Any]:
    return _loop(items, literal_chars)


def _literal_chars(body: list[nodes.Node]) -> int:
    """The literal text a loop body writes per iteration (nested loops count their own)."""
    total = 0
    stack: list[nodes.Node] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.TemplateData):
            total += len(node.data)
        elif not isinstance(node, nodes.For):
            stack.extend(node.iter_child_nodes())
    return total


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with ``~`` and ``for`` going through the bounds, and
    ``{% autoescape %}`` blocks refused (values are escaped where they land)."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for loop in list(node.find_all(nodes.For)):
            chars = nodes.Const(_literal_chars(loop.body), lineno=loop.lineno)
            loop.iter = nodes.Filter(
                loop.iter, LOOP_FILTER, [chars], [], None, None, lineno=loop.lineno
            )
        super().visit_Template(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.concat_bounded({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_ScopedEvalContextModifier(
        self, node: nodes.ScopedEvalContextModifier, frame: Frame
    ) -> None:
        self.fail("autoescape blocks are not allowed in templates", node.lineno)

    def visit_EvalContextModifier(self, node: nodes.EvalContextModifier, frame: Frame) -> None:
        self.fail("autoescape blocks are not allowed in templates", node.lineno)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every way of building text bounded (see the module)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_finalize, **options)
        # No globals (range, dict, lipsum...): templates call nothing, and without them
        # a render's context is its values alone (Jinja copies the globals into each).
        self.globals.clear()
        self.filters.pop("attr", None)  # no attribute access by name, even sandboxed
        self.filters["safe"] = _escaped_safe
        for name, func in list(self.filters.items()):
            self.filters[name] = _bounded_filter(name, func)
        self.filters[LOOP_FILTER] = _loop_filter

    def call(self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        raise SecurityError("function calls are not allowed in templates")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _budget().tick()
        if operator == "**":
            raise SecurityError("the ** operator is not allowed in templates")
        numbers = isinstance(left, int | float) and isinstance(right, int | float)
        if numbers and max(abs(left), abs(right)) > MAX_NUMBER:
            raise RenderLimit(f"numbers over {MAX_NUMBER:,} are not allowed in arithmetic")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    _predicted(measure(seq) * max(times, 0), "repeated text")
        if operator == "%" and isinstance(left, str):
            check_printf(left, right)
        if operator == "+":
            _predicted(measure(left) + measure(right), "joined text")
        return check_size(super().call_binop(context, operator, left, right), "a value")

    def concat_bounded(self, join: Callable[[Iterable[Any]], str], parts: tuple[Any, ...]) -> str:
        _budget().tick()
        _predicted(sum(measure(part) for part in parts), "joined text")
        return join(parts)
