"""`attnreid <verb>`: every stage of the DAG is one verb with explicit input and output paths.

Snakemake rules and dvc.yaml stages only call these verbs; only `fetch` and `fetch-weights`
(DOWNLOADS, never DAG jobs) may open an internet connection (attnreid.offline). Bad input exits with status 2 and one line naming the
file or params key; training stopped by signal N (after checkpointing) exits 128+N.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from pathlib import Path

from attnreid import config
from attnreid.errors import InputError, Interrupted
from attnreid.grid import Cell, Grid

log = logging.getLogger("attnreid")


def _grid(args) -> Grid:
    return Grid(config.load(args.params, args.profile))


def cmd_synthesize(args):
    from attnreid.data.synthreid import SynthConfig, generate

    g = _grid(args)
    cfg = SynthConfig.from_dict(g.dataset_cfg(args.dataset).get("synth", {}), where=f"datasets.{args.dataset}.synth")
    info = generate(args.out, cfg)
    log.info("synthesized %s into %s: %s", args.dataset, args.out, json.dumps(info.get("counts", info)))


def cmd_fetch(args):
    from attnreid.data.fetch import fetch_dataset

    root = fetch_dataset(args.dataset, _grid(args).dataset_cfg(args.dataset))
    log.info("%s is in %s", args.dataset, root)


def cmd_fetch_weights(args):
    from attnreid import preflight
    from attnreid.models import weights

    keys = args.only or preflight.weight_keys(_grid(args))
    if not keys:
        print("no published weights needed")
    for key in keys:
        path, status = weights.fetch(key)
        print(f"{key}: {status} {path}")


def cmd_check(args):
    """Exit 1 with the missing needs after the table; 0 when nothing is missing."""
    from attnreid import preflight

    g = _grid(args)
    checked = preflight.rows(g, cheap=args.cheap)
    print(preflight.table(g, checked))
    missing = preflight.failures(checked)
    for line in missing:
        print(f"attnreid: missing: {line}", file=sys.stderr)
    return 1 if missing else 0


def cmd_prepare(args):
    from attnreid.data.datasets import prepare

    g = _grid(args)
    meta = prepare(args.dataset, g.dataset_cfg(args.dataset), args.root, args.out)
    log.info("prepared %s from %s -> %s: %s", args.dataset, args.root, args.out, json.dumps(meta["counts"]))


def cmd_pseudo_labels(args):
    from attnreid.pseudo.run import run

    prov = run(args.dataset, args.index, args.out, _grid(args).params["pseudo_labels"], args.backend, args.max_images,
               args.optional)
    log.info("pseudo-labels for %s (backend %s, %d images) -> %s", args.dataset, prov["backend"], prov["images"], args.out)


def cmd_pseudo_report(args):
    from attnreid.pseudo.report import render

    render(_grid(args), args.out)
    log.info("pseudo-label backends report -> %s", args.out)


def cmd_cache(args):
    from attnreid.data.cache import build

    build(args.index, args.height, args.width, args.out, args.threads)
    log.info("decoded %s at %dx%d -> %s", args.dataset, args.height, args.width, args.out)


def cmd_train(args):
    from attnreid.engine.train import train

    g = _grid(args)
    cell = Cell.parse(args.cell)
    meta = train(g.cell_config(cell), g.config_digest(cell), args.index, args.out,
                 g.live_dir(cell) if args.live is None else args.live, args.threads, args.pseudo, args.cache)
    log.info("trained %s -> %s (%.1f img/s, pretrained %s)", cell.id, args.out, meta["imgs_per_s"], meta["pretrained"])


def cmd_extract(args):
    from attnreid.engine.extract import extract

    g = _grid(args)
    cell = Cell.parse(args.cell)
    extract(args.checkpoint, g.config_digest(cell), args.index, args.out, g.eval_config(cell.method), args.threads,
            args.cache)
    log.info("features of %s -> %s", cell.id, args.out)


def cmd_evaluate(args):
    from attnreid.engine.evaluate import run

    g = _grid(args)
    m = run(args.features, args.out, g.params["eval"], args.cell)
    log.info("%s: R1 %.1f mAP %.1f | re-ranked R1 %.1f mAP %.1f", args.cell, 100 * m["R1"], 100 * m["mAP"],
             100 * m["rerank"]["R1"], 100 * m["rerank"]["mAP"])


def cmd_table(args):
    from attnreid import papers
    from attnreid.report.tables import render

    render(papers.table(args.table), _grid(args), args.out)
    log.info("table %s -> %s", args.table, args.out)


def cmd_figure(args):
    from attnreid import papers, viz

    viz.draw(papers.figure(args.figure), _grid(args), args.out)
    log.info("figure %s -> %s", args.figure, args.out)


def cmd_claims(args):
    from attnreid.report.claims import render

    render(_grid(args), args.out)
    log.info("claims ledger -> %s", args.out)


def cmd_report(args):
    from attnreid.report.report import render

    render(_grid(args), args.out)
    log.info("report -> %s", args.out)


def cmd_dvc_yaml(args):
    from attnreid import dvcgen
    from attnreid.atomic import write_text

    raw = config.load_raw(args.params)
    text = dvcgen.render(Grid(config.resolve(raw, args.profile)), raw)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        write_text(args.out, text)


def cmd_dvc_record(args):
    from attnreid import dvcsync

    n = dvcsync.record(args.params, args.profile)
    print(f"recorded {n} stages in dvc.lock; now `git add dvc.lock && git commit` and `dvc push`")


def cmd_dvc_pull(args):
    from attnreid import dvcsync

    stats = dvcsync.pull(args.params, args.profile)
    dvcsync.sync_snakemake(args.params, args.profile)
    print(f"pulled ({stats['stats'].get('fetched', 0)} files fetched); dvc status is clean and Snakemake takes every output as up to date")


def cmd_snakemake_sync(args):
    from attnreid import dvcsync

    dvcsync.sync_snakemake(args.params, args.profile)
    print("dvc status is clean; Snakemake takes every output as up to date")


def cmd_cells(args):
    g = _grid(args)
    cells = g.table_cells(args.table) if args.table else g.cells()
    for c in cells:
        print(c.id)


def cmd_where(args):
    g = _grid(args)
    print(f"profile {g.profile}: tables and figures are in results/ —")
    for path in g.targets():
        print(f"  {path}{'' if Path(path).exists() else '  (missing)'}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="attnreid", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="verb", required=True)

    def verb(name, fn, *opts):
        s = sub.add_parser(name)
        s.add_argument("--params", default="params.yaml")
        s.add_argument("--profile", default=None, help="smoke | default | paper (default: params.yaml `profile`)")
        for o in opts:
            s.add_argument(f"--{o}", required=True)
        s.set_defaults(fn=fn)
        return s

    verb("synthesize", cmd_synthesize, "dataset", "out")
    verb("fetch", cmd_fetch, "dataset")
    s = verb("fetch-weights", cmd_fetch_weights)
    s.add_argument("--only", action="append", default=None,
                   help="one weights key (imagenet:resnet50, coco:maskrcnn, ...) instead of the profile's; repeatable")
    s = verb("check", cmd_check)
    s.add_argument("--cheap", action="store_true", help="no scanning, hashing, GPU or disk check (Snakefile start)")
    verb("prepare", cmd_prepare, "dataset", "root", "out")
    s = verb("pseudo-labels", cmd_pseudo_labels, "dataset", "index", "out")
    s.add_argument("--backend", default=None, help="instead of params.yaml pseudo_labels.backend")
    s.add_argument("--max-images", type=int, default=None, help="label only the first N rows of the index")
    s.add_argument("--optional", action="store_true",
                   help="a backend that cannot run here writes an `unavailable` folder instead of failing")
    verb("pseudo-report", cmd_pseudo_report, "out")
    s = verb("cache", cmd_cache, "dataset", "index", "out")
    s.add_argument("--height", type=int, required=True)
    s.add_argument("--width", type=int, required=True)
    s.add_argument("--threads", type=int, default=2)
    s = verb("train", cmd_train, "cell", "index", "pseudo", "out")
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--cache", default=None, help="the index's image cache at the cell's size (default: decode in memory)")
    s.add_argument("--live", default=None, help="dvclive folder (default: the cell's)")
    s = verb("extract", cmd_extract, "cell", "index", "checkpoint", "out")
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--cache", default=None, help="the index's image cache at the cell's size (default: decode in memory)")
    verb("evaluate", cmd_evaluate, "cell", "features", "out")
    verb("table", cmd_table, "table", "out")
    verb("figure", cmd_figure, "figure", "out")
    verb("claims", cmd_claims, "out")
    verb("report", cmd_report, "out")
    verb("dvc-yaml", cmd_dvc_yaml, "out")
    verb("dvc-record", cmd_dvc_record)      # after a Snakemake run: its outputs into dvc.lock, nothing rerun
    verb("dvc-pull", cmd_dvc_pull)          # dvc pull, then snakemake-sync
    verb("snakemake-sync", cmd_snakemake_sync)  # after dvc pull/checkout: Snakemake agrees with DVC
    s = verb("cells", cmd_cells)
    s.add_argument("--table", default=None)
    verb("where", cmd_where)
    return p


# The only verbs that may download (run on a login node, before the DAG); every other verb, every DAG
# job among them, runs with internet connections refused (attnreid.offline).
DOWNLOADS = ("fetch", "fetch-weights")


def main(argv=None) -> int:
    from attnreid.offline import no_network

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    try:
        with contextlib.nullcontext() if args.verb in DOWNLOADS else no_network(args.verb):
            status = args.fn(args)
    except InputError as err:
        print(f"attnreid: error: {err}", file=sys.stderr)
        return 2
    except Interrupted as err:
        print(f"attnreid: interrupted: {err}", file=sys.stderr)
        return err.status
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
