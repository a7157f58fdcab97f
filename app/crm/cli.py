"""``flask crm import ENTITY FILE``: a CSV file through the same upserts as the API."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import click

from app.auth.actor import Actor, CommandLineActor
from app.crm import imports
from app.crm.imports import import_log
from app.crm.imports.batches import Item, batches, reject_records, rejected, rejects_header
from app.crm.imports.csvfile import CsvError, CsvSource, field_names


@click.group("crm")
def crm_cli() -> None:
    """CRM data: import territories, SKUs, customers, orders and users from CSV."""


def _mapping(values: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for value in values:
        column, sep, target = value.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise click.BadParameter(f"{value!r}: write COLUMN=field", param_hint="--map")
        mapping[column.strip()] = target.strip()
    return mapping


@crm_cli.command("import")
@click.argument("entity", type=click.Choice(sorted(imports.ENTITIES)))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=field",
    help="Read COLUMN as field (repeatable; field '-' skips the column). Columns are "
    "matched by their usual names otherwise (E-mail, Customer #, Account Name...).",
)
@click.option("--date-format", default=None, help="strptime format of dates, e.g. %m/%d/%Y.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the rejected rows to this CSV, with a column saying why.",
)
def import_command(
    entity: str,
    file: Path,
    dry_run: bool,
    maps: tuple[str, ...],
    date_format: str | None,
    rejects: Path | None,
) -> None:
    """Create or update ENTITY records from the CSV FILE, keyed by their external ids.

    Rows are read as a stream and upserted in batches; each batch is all-or-nothing per
    row, and running the same file again changes nothing.
    """
    source = CsvSource(file, entity, _mapping(maps), date_format)
    try:
        source.open()
    except CsvError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    except OSError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    matched = ", ".join(f"{source.headers[at]} -> {name}" for at, name in source.columns.items())
    click.echo(f"{file.name}: {source.encoding.replace('-sig', '')}; columns {matched}")
    if source.unused:
        click.echo(f"  ignored columns: {', '.join(source.unused)} (fields: "
                   f"{', '.join(field_names(entity))})")  # fmt: skip
    totals = dict.fromkeys(("created", "updated", "unchanged", "rejected"), 0)
    out = rejects.open("w", encoding="utf-8", newline="") if rejects else None
    writer = csv.writer(out) if out else None
    if writer:
        writer.writerow(rejects_header(source))
    actor = CommandLineActor()
    try:
        for batch in batches(source):
            _flush(entity, batch, actor, dry_run, totals, writer)
    except UnicodeDecodeError as exc:  # pragma: no cover - the scan reads every byte first
        import_log.record("cli", entity, actor, totals, file_name=file.name, error=str(exc))
        raise click.ClickException(f"{file}: {exc}") from exc
    except Exception as exc:
        import_log.record("cli", entity, actor, totals, file_name=file.name, error=str(exc))
        raise
    finally:
        if out:
            out.close()
    import_log.record("cli", entity, actor, totals, file_name=file.name, dry_run=dry_run)
    verb = "would be" if dry_run else "were"
    summary = ", ".join(f"{count} {key}" for key, count in totals.items())
    click.echo(f"{'Dry run: ' if dry_run else ''}{summary} ({entity} that {verb} written)")


def _flush(
    entity: str,
    batch: list[Item],
    actor: Actor,
    dry_run: bool,
    totals: dict[str, int],
    writer: Any,
) -> None:
    report = imports.run(entity, [row for _, row, _ in batch], actor, dry_run=dry_run)
    for key in totals:
        totals[key] += report[key]
    for item in rejected(entity, batch, report):
        ref = f" ({item.external_id})" if item.external_id else ""
        click.echo(f"  line {item.line}{ref}: {item.reasons}", err=True)
        if writer:
            writer.writerows(reject_records(item))
    sys.stderr.flush()
