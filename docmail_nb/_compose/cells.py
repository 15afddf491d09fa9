"""A template's parts: compiled once per plan, the cells each reads, where the rows of a group
disagree, and the hint to give when a part fails for a row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Template, nodes
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from docmail_nb._compose.headers import join_lines
from docmail_nb._compose.templates import MessageTemplate
from docmail_nb._sheets.orders import CellError, Orders
from docmail_nb.words import plural

__all__ = ["TemplateCells"]


class TemplateCells:
    """A template's parts compiled once per plan, the cells each reads, and the hint to give
    when one fails for a row."""

    def __init__(self, orders: Orders, env: SandboxedEnvironment) -> None:
        self.orders = orders
        self.env = env
        self.found: dict[str, tuple[list[str], list[str]]] = {}
        self.scope: list[tuple[int, dict[str, Any]]] = []  # the rows being rendered
        self.compiled: dict[tuple[SandboxedEnvironment, str], Template] = {}

    def names_in(self, source: str) -> tuple[list[str], list[str]]:
        """The columns ``source`` uses: by name, and as attributes of a loop row (``r.x``)."""
        found = self.found.get(source)
        if found is None:
            columns = set(self.orders.columns)
            try:
                tree = self.env.parse(source)
            except JinjaError:
                return [], []
            direct = [n.name for n in tree.find_all(nodes.Name) if n.name in columns]
            looped = [n.attr for n in tree.find_all(nodes.Getattr) if n.attr in columns]
            looped += [
                n.arg.value
                for n in tree.find_all(nodes.Getitem)
                if isinstance(n.arg, nodes.Const) and n.arg.value in columns
            ]
            found = self.found[source] = (list(dict.fromkeys(direct)), list(dict.fromkeys(looped)))
        return found

    def cells(self, source: str, row: int, context: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """(``"I7 (Fällig)"``, value) of every cell ``source`` reads: its row's and, for a
        loop over the group's rows, those of every row of the group."""
        direct, looped = self.names_in(source)
        cells = [(f"{self.orders.cell(n, row)} ({n})", context.get(n)) for n in direct]
        scope = self.scope if any(number == row for number, _ in self.scope) else []
        for number, values in scope or [(row, dict(context))]:
            cells += [
                (f"{self.orders.cell(n, number)} ({n})", values.get(n))
                for n in looped
                if n not in direct or number != row
            ]
        return list(dict(cells).items())

    def hint(self, source: str, row: int, context: Mapping[str, Any], error: str = "") -> str:
        """Which cell to look at when ``source`` failed to render (``error`` says why)."""
        cells = self.cells(source, row, context)
        named = [
            (label, value)
            for label, value in cells
            if value is not None and repr(str(value)) in error
        ]
        cells = named or cells
        errors = [value for _, value in cells if isinstance(value, CellError)]
        if errors:
            return errors[0].hint()
        empty = [label for label, value in cells if value is None]
        if empty:
            return f"Fill in the empty {plural(len(empty), 'cell')} {', '.join(empty)}."
        if len(cells) == 1:
            label, value = cells[0]
            return f"Check cell {label}: it holds {str(value)!r}."
        if cells:
            return f"Check the cells {', '.join(label for label, _ in cells)}."
        return "Check this row's cells."

    def empty_hint(self, source: str, row: int, context: Mapping[str, Any]) -> str:
        """Which empty cells to fill in when an address header rendered empty."""
        empty = [label for label, value in self.cells(source, row, context) if value is None]
        if empty:
            return f"Fill in the empty {plural(len(empty), 'cell')} {', '.join(empty)}."
        return "Fill in the address column of this row."

    def compile(self, env: SandboxedEnvironment, source: str) -> Template:
        """``source`` compiled in ``env``, once per plan (rows share the template's parts)."""
        compiled = self.compiled.get((env, source))
        if compiled is None:
            compiled = self.compiled[env, source] = env.from_string(source)
        return compiled

    def disagreements(
        self,
        template: MessageTemplate,
        rows: list[tuple[int, dict[str, Any]]],
        context: dict[str, Any],
    ) -> list[tuple[str, str, str]]:
        """(header, message, hint) for every header the rows of one group render differently."""
        found: list[tuple[str, str, str]] = []
        for name in ("To", "Cc", "Bcc", "From", "Reply-To", "Subject"):
            source = template.header(name)
            if source is None:
                continue
            seen: dict[str, list[int]] = {}
            for number, values in rows:
                try:
                    rendered = self.compile(self.env, source).render(
                        dict(context, **values, row=values)
                    )
                except Exception:  # noqa: S112 - the first row's own problem is reported
                    continue
                seen.setdefault(" ".join(join_lines(rendered).split()), []).append(number)
            if len(seen) > 1:
                listed = "; ".join(
                    f"{plural(len(numbers), 'row')} {', '.join(map(str, numbers))}: "
                    f"{value or '(empty)'!r}"
                    for value, numbers in seen.items()
                )
                found.append(
                    (
                        name,
                        f"The rows of group {context.get('group')!r} disagree on {name}: {listed}.",
                        "One message goes to each group: make these rows agree (the same "
                        f"{name} in every row of the group), or send them without Group-By.",
                    )
                )
        return found
