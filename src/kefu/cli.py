"""The `kefu` command: demo, serve, gen, import, export, report."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

DEMO_PASSWORD = "kefu-demo"
db_option = click.option(
    "--db",
    "db_url",
    metavar="URL",
    envvar="KEFU_DATABASE_URL",
    help="Store URL (default: SQLite file kefu.db in the data folder; env KEFU_DATABASE_URL).",
)


def get_settings():
    """kefu's settings, imported when first wanted: pydantic-settings takes 0.2 s to load, which a
    report over files spends reading instead (report_command)."""
    from kefu.settings import get_settings as settings

    return settings()


def _default_zone() -> str:
    """Settings.default_timezone, read without loading the settings (kefu.environment)."""
    from kefu.environment import DEFAULT_TIMEZONE, setting

    return setting("default_timezone", DEFAULT_TIMEZONE)


def _engine(db_url: str | None):
    from kefu.store.engine import make_engine
    from kefu.store.migrate import upgrade

    url = db_url or get_settings().resolved_database_url()
    engine = make_engine(url)
    upgrade(engine)
    return engine


def _report_heap(folder: Path) -> int:
    """Roughly what a report over `folder` still allocates once its engine has started: eight times
    its Parquet files, half its text files; none under 64 MB, at most 1 GiB or an eighth of the
    free memory. At 10 M messages (134 MB of Parquet) 1 GiB brings the heap to the report's peak:
    seven alternated pairs 3.67 -> 3.35 s against four times (3.59 -> 3.47 s in seven more)."""
    size = 0
    for path in folder.rglob("*"):
        if path.is_file():
            on_disk = path.stat().st_size
            size += on_disk * 8 if path.suffix == ".parquet" else on_disk // 2
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    size = min(size, 1 << 30, free // 8)
    return size if size >= 64 << 20 else 0


@contextmanager
def _progress(total: int, title: str) -> Iterator[Callable[[str], None]]:
    """A progress bar on a terminal; nothing when output goes to a file or a pipe."""
    if not sys.stderr.isatty():  # rich is not even imported (30 ms before a report starts reading)
        yield lambda message: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),  # stdout stays the command's own (and may be a file)
        transient=True,
    )
    with bar:
        task = bar.add_task(title, total=total)

        def step(message: str) -> None:
            bar.update(task, advance=1, description=message)

        yield step
        bar.update(task, completed=total)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kefu")
def main() -> None:
    """kefu (客服): customer service for online shops."""


@main.command("import")
@click.argument("folder", type=click.Path(path_type=Path))
@db_option
def import_command(folder: Path, db_url: str | None) -> None:
    """Import the interchange dataset in FOLDER, all of it or nothing.

    Every table is read and checked first; any problem is reported with its file, line and
    field, the command exits with status 2, and nothing is stored.
    """
    from kefu.interchange.errors import DatasetError
    from kefu.interchange.importing import do_import

    engine = _engine(db_url)
    try:
        with _progress(30, "importing") as step:
            summary = do_import(
                engine, folder, actor="cli", default_zone=_default_zone(), progress=step
            )
    except DatasetError as exc:
        click.echo(f"kefu import: {folder} was refused; nothing was stored.", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    total = sum(summary.rows.values())
    again = " (this dataset was imported before; the store is unchanged)" if summary.repeated else ""
    click.echo(f"imported {total} rows from {folder} in {summary.seconds:.1f} s{again}")
    for name, count in summary.rows.items():
        click.echo(f"  {name:12} {count}")


@main.command("export")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]), default="jsonl", show_default=True
)
@db_option
def export_command(folder: Path, fmt: str, db_url: str | None) -> None:
    """Write the store to FOLDER as an interchange dataset."""
    from kefu.interchange.exporting import do_export

    engine = _engine(db_url)
    with _progress(12, "exporting") as step:
        counts = do_export(engine, folder, fmt, progress=step)
    click.echo(f"exported {sum(counts.values())} rows to {folder} as {fmt}")


@main.command("report")
@click.option(
    "--data", "folder", type=click.Path(path_type=Path), help="A dataset folder (interchange format)."
)
@click.option("--db", "db_url", metavar="URL", help="A store URL instead of a folder.")
@click.option("--from", "date_from", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day.")
@click.option("--to", "date_to", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Day after the last.")
@click.option("--tz", "zone", metavar="ZONE", help="Every shop's time zone (default: each shop's own).")
@click.option("--shop", "shop_id", metavar="ID", help="Only this shop.")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv", "xlsx", "html"]), default="json", show_default=True
)
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="File to write (csv: one per table)."
)
@click.option(
    "--segment",
    type=click.Choice(["all", "presale", "aftersale"]),
    default="all",
    show_default=True,
    help="Only pre-sale or after-sale conversations (after-sale: a paid order in the 30 days before).",
)
@click.option(
    "--channel",
    type=click.Choice(["all", "human", "bot"]),
    default="all",
    show_default=True,
    help="Only conversations an agent wrote in (human) or that only the bot answered (bot).",
)
@click.option(
    "--compare", is_flag=True, help="Add the previous period (环比) and the peers (同行) of each shop."
)
@click.option(
    "--peers",
    "peers_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Peers from a report JSON of other shops (default: same-category shops in the data).",
)
@click.option("--scorecard", is_flag=True, help="Grade and rank the agents (绩效) against targets.")
@click.option("--load", "with_load", is_flag=True, help="Add conversations per agent and hour of the day.")
@click.option(
    "--refund-watch", is_flag=True, help="Add refund rates per product and reason against the shop's history."
)
@click.option(
    "--targets",
    "targets_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Scorecard targets and weights as JSON (see docs/metrics.md); implies --scorecard.",
)
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(["duckdb", "store", "spark"]),
    default="duckdb",
    show_default=True,
    help="duckdb: embedded; store: inside the store's database (with --db); spark: PySpark.",
)
def report_command(
    folder: Path | None,
    db_url: str | None,
    date_from,
    date_to,
    zone: str | None,
    shop_id: str | None,
    fmt: str,
    out: Path,
    segment: str,
    channel: str,
    compare: bool,
    peers_file: Path | None,
    scorecard: bool,
    targets_file: Path | None,
    with_load: bool,
    refund_watch: bool,
    engine_name: str,
) -> None:
    """Service metrics (shared/spec/metrics.md) for the days [--from, --to) per agent, shop and product.

    Reads a dataset folder with the same checks as `kefu import` (a bad file exits with status
    2 naming the file, line and field) or a store. Example:

      kefu report --data shop-data --from 2026-11-01 --to 2026-11-08 --format xlsx --out week.xlsx
    """
    from kefu.batch_process import ENGINE_THREADS, batch_process, prefault_heap

    # Before numpy loads; undone when the command returns (tests run it in their own process).
    kept = click.get_current_context().with_resource(batch_process())
    from concurrent.futures import ThreadPoolExecutor
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from kefu.analytics.folders import arrow_without_pandas, read_folder
    from kefu.analytics.period import Period
    from kefu.interchange.errors import DatasetError

    if (folder is None) == (db_url is None):
        raise click.UsageError("give either --data DIR or --db URL")
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise click.BadParameter(
                f"{zone!r} is not an IANA time zone such as Asia/Shanghai", param_hint="--tz"
            ) from None
    try:
        period = Period(date_from.date(), date_to.date())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    if engine_name == "store" and db_url is None:
        raise click.UsageError("--engine store needs --db URL")
    peer_rows = None
    if peers_file:
        import json

        peer_rows = json.loads(peers_file.read_text(encoding="utf-8"))["shops"]
    targets = None
    if scorecard or targets_file:
        from kefu.analytics.scorecard import DEFAULT_TARGETS, load_targets

        try:
            targets = load_targets(targets_file) if targets_file else DEFAULT_TARGETS
        except (ValueError, TypeError, KeyError) as exc:
            raise click.BadParameter(str(exc), param_hint="--targets") from None
    if folder is not None and engine_name == "duckdb":
        arrow_without_pandas()  # files and DuckDB only: Spark and the store's backends may use pandas
    try:
        with ThreadPoolExecutor(1) as pool, _progress(30, "report") as step:
            # The files are read while the settings, Ibis and the metric modules load (0.7 s).
            reading = pool.submit(read_folder, folder, zone, _default_zone, step) if folder else None
            default_zone = _default_zone()
            from kefu.analytics.engines import make_engine
            from kefu.analytics.runs import Extras, run_report

            extras = Extras(
                compare=compare or peers_file is not None,
                peer_rows=peer_rows,
                targets=targets,
                load=with_load,
                refund_watch=refund_watch,
            )
            engine = make_engine(engine_name, db_url, duckdb_threads=ENGINE_THREADS if kept else None)
            if kept and folder is not None:
                # DuckDB trims the heap as it starts: what the report takes from now on is faulted
                # in while the cores idle between its steps (kefu.batch_process).
                prefault_heap(_report_heap(folder))
            try:
                report = run_report(
                    period,
                    folder=folder,
                    store_url=db_url,
                    engine_name=engine_name,
                    zone=zone,
                    default_zone=default_zone,
                    shop_id=shop_id,
                    progress=step,
                    segment=segment,
                    channel=channel,
                    extras=extras,
                    reading=reading,
                    engine=engine,
                )
            finally:
                engine.close()
    except DatasetError as exc:
        click.echo(f"kefu report: {folder} was refused.", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    from kefu.analytics.report_files import write_report

    written = write_report(report, fmt, out)
    click.echo(
        f"{len(report.agents)} agents, {len(report.shops)} shops, {len(report.products)} products: "
        + ", ".join(str(p) for p in written)
    )


@main.command("gen")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same dataset.")
@click.option("--conversations", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]), default="jsonl", show_default=True
)
def gen_command(folder: Path, seed: int, conversations: int, fmt: str) -> None:
    """Write a realistic demo dataset (four shops: chats, orders, refunds, ratings, reviews) to FOLDER."""
    counts = write_demo_dataset(folder, seed, conversations, fmt)
    click.echo(
        f"wrote {sum(counts.values())} rows to {folder}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
    )


def write_demo_dataset(folder: Path, seed: int, conversations: int, fmt: str = "jsonl") -> dict[str, int]:
    """Generate the demo dataset and write it in the interchange format."""
    from kefu.demo.generator import generate
    from kefu.interchange.writing import table_from_rows, write_table

    counts = {}
    with _progress(2, "generating") as step:
        dataset = generate(seed, conversations)
        step("writing")
        for name, rows in dataset.items():
            write_table(table_from_rows(name, rows), folder, name, fmt)
            counts[name] = len(rows)
    return counts


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@db_option
def serve_command(host: str, port: int, db_url: str | None) -> None:
    """Serve the web app."""
    _serve(host, port, db_url)


def _serve(host: str, port: int, db_url: str | None) -> None:
    import gc

    import uvicorn

    from kefu.settings import Settings
    from kefu.web.app import create_app

    settings = Settings(database_url=db_url) if db_url else get_settings()
    if "KEFU_ANALYTICS_PRELOAD" not in os.environ:
        settings = settings.model_copy(update={"analytics_preload": True})
    # Chat frames are small: compressing each cost more CPU than anything else on the event loop
    # (docs/benchmarks.md, Desk), for a few bytes saved.
    app = create_app(settings)
    # The modules and the app are made once and live as long as the process: moved out of the
    # collector's sight, they no longer make each full collection (a pause in every socket's
    # delivery) walk them.
    gc.collect()
    gc.freeze()
    # The event loop shares the GIL with the desk's writer thread, whose SQL is Python work: at
    # the default 5 ms the loop could wait that long for every handover, which showed in the
    # desk's slowest 1 % (two processes: p99 26-62 ms over six runs, 26-36 ms with 1 ms).
    sys.setswitchinterval(0.001)
    uvicorn.run(app, host=host, port=port, log_level="info", ws_per_message_deflate=False)


@main.command("shop-secret")
@click.argument("shop_id")
@db_option
def shop_secret_command(shop_id: str, db_url: str | None) -> None:
    """Print the secret SHOP signs its buyers' chat tokens with (made on first use; see docs/desk.md)."""
    from kefu.accounts.access import NotFound
    from kefu.desk.chat_access import buyer_secret
    from kefu.store.engine import make_sessionmaker, session_scope

    try:
        with session_scope(make_sessionmaker(_engine(db_url))) as session:
            click.echo(buyer_secret(session, shop_id))
    except NotFound:
        raise click.ClickException(f"no shop {shop_id!r} in the store") from None


@main.group("api-key")
def api_key_group() -> None:
    """A shop's API keys for connectors (docs/api.md)."""


@api_key_group.command("create")
@click.argument("shop_id")
@click.argument("name")
@db_option
def api_key_create_command(shop_id: str, name: str, db_url: str | None) -> None:
    """Make an API key for SHOP called NAME and print it: shown only now, kefu keeps its hash."""
    from datetime import UTC, datetime

    from kefu.accounts.access import NotFound
    from kefu.desk.api_keys import create_api_key
    from kefu.store.engine import make_sessionmaker, session_scope

    try:
        with session_scope(make_sessionmaker(_engine(db_url))) as session:
            row, key = create_api_key(session, shop_id, name, datetime.now(UTC))
            key_id = row.id
    except NotFound:
        raise click.ClickException(f"no shop {shop_id!r} in the store") from None
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(key)
    click.echo(f"API key {key_id} for {shop_id}: keep it now, it is not shown again.", err=True)


@api_key_group.command("list")
@click.argument("shop_id")
@db_option
def api_key_list_command(shop_id: str, db_url: str | None) -> None:
    """SHOP's API keys: id, name, made, last used (never the keys themselves)."""
    from kefu.desk.api_keys import list_api_keys
    from kefu.store.engine import make_sessionmaker, session_scope

    with session_scope(make_sessionmaker(_engine(db_url))) as session:
        for row in list_api_keys(session, shop_id):
            used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "never"
            made = row.created_at.isoformat(timespec="seconds")
            click.echo(f"{row.id}\t{row.name}\tmade {made}\tused {used}")


@api_key_group.command("revoke")
@click.argument("shop_id")
@click.argument("key_id", type=int)
@db_option
def api_key_revoke_command(shop_id: str, key_id: int, db_url: str | None) -> None:
    """Delete SHOP's API key KEY_ID: the next request with it is refused."""
    from kefu.accounts.access import NotFound
    from kefu.desk.api_keys import revoke_api_key
    from kefu.store.engine import make_sessionmaker, session_scope

    try:
        with session_scope(make_sessionmaker(_engine(db_url))) as session:
            revoke_api_key(session, shop_id, key_id)
    except NotFound:
        raise click.ClickException(f"{shop_id!r} has no API key {key_id}") from None
    click.echo(f"revoked API key {key_id} of {shop_id}")


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--conversations", type=click.IntRange(min=50), default=3000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Fill the store and print the logins, without serving.")
@db_option
def demo_command(
    host: str, port: int, seed: int, conversations: int, no_serve: bool, db_url: str | None
) -> None:
    """Generate a demo shop, import it into the store and serve the app."""
    from kefu.accounts.actions import do_set_demo_passwords
    from kefu.desk.chat_access import open_to_anonymous_buyers
    from kefu.interchange.importing import do_import

    settings = get_settings()
    dataset = settings.data_dir / "demo-dataset"
    if not (dataset / "messages.jsonl").exists():
        write_demo_dataset(dataset, seed, conversations)
    engine = _engine(db_url)
    with _progress(30, "importing the demo shop") as step:
        do_import(engine, dataset, actor="demo", progress=step)
    logins = do_set_demo_passwords(engine, DEMO_PASSWORD)
    chats = open_to_anonymous_buyers(engine)
    address = f"http://{host}:{port}/"
    click.echo("")
    click.echo(f"kefu demo: {address}")
    click.echo(f"store: {db_url or settings.resolved_database_url()}")
    click.echo(f"every demo login below has the password: {DEMO_PASSWORD}")
    for login in _pick_demo_logins(logins):
        click.echo(f"  {login.role:10} {login.username:16} {login.nickname}  ({login.shop_name})")
    click.echo("the buyer's side, one chat page per shop (open it in another browser or a private window):")
    for shop_id, name in chats:
        click.echo(f"  {address}chat/{shop_id}  ({name})")
    click.echo("")
    if not no_serve:
        os.environ.setdefault("KEFU_ENV", "development")
        _serve(host, port, db_url)


def _pick_demo_logins(logins: list) -> list:
    """One admin, one supervisor and two agents per shop: enough to try every role."""
    chosen, seen = [], {}
    for login in sorted(logins, key=lambda x: (x.shop_name, x.role, x.username)):
        key = (login.shop_name, login.role)
        limit = 2 if login.role == "agent" else 1
        if seen.get(key, 0) < limit:
            seen[key] = seen.get(key, 0) + 1
            chosen.append(login)
    return chosen


if __name__ == "__main__":
    main()
