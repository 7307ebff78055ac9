# Feature extraction and evaluation (CMC, mAP, mINP; with and without k-reciprocal re-ranking).


rule extract:
    input:
        index=f"{WORK}/prepared/{{dataset}}/index.csv",
        model=f"{WORK}/runs/{{dataset}}/{{method}}/s{{seed}}/model.pt",
        cache=lambda w: G.cell_cache(cell_of(w)),
    output:
        f"{WORK}/runs/{{dataset}}/{{method}}/s{{seed}}/features.npz",
    params:
        cmd=lambda w: G.extract(cell_of(w)).cmd,
        config=lambda w: G.eval_config(w.method)["flip"],  # the method's own test-time flip, if it sets one
    threads: RES["extract"]["threads"]
    resources:
        cpus_per_task=RES["extract"]["threads"],
        mem_mb=RES["extract"]["mem_mb"],
        runtime=RES["extract"]["runtime"],
    log:
        f"{WORK}/logs/extract/{{dataset}}/{{method}}/s{{seed}}.log",
    shell:
        "{params.cmd} 2> {log}"


rule evaluate:
    input:
        f"{WORK}/runs/{{dataset}}/{{method}}/s{{seed}}/features.npz",
    output:
        f"{WORK}/metrics/{{dataset}}/{{method}}/s{{seed}}.json",
    params:
        cmd=lambda w: G.evaluate(cell_of(w)).cmd,
        config=PARAMS["eval"],
    resources:
        **RES["light"],
    log:
        f"{WORK}/logs/evaluate/{{dataset}}/{{method}}/s{{seed}}.log",
    shell:
        "{params.cmd} 2> {log}"


# Cross-dataset tables (a table's `train_on`): a cell's model tested on another dataset's index.
rule extract_cross:
    input:
        index=f"{WORK}/prepared/{{test}}/index.csv",
        model=f"{WORK}/runs/{{dataset}}/{{method}}/s{{seed}}/model.pt",
        cache=lambda w: G.cell_cache(cell_of(w), w.test),
    output:
        f"{WORK}/runs/{{dataset}}/{{method}}/s{{seed}}/features-{{test}}.npz",
    params:
        cmd=lambda w: G.extract(cell_of(w), w.test).cmd,
        config=lambda w: G.eval_config(w.method)["flip"],  # the method's own test-time flip, if it sets one
    threads: RES["extract"]["threads"]
    resources:
        cpus_per_task=RES["extract"]["threads"],
        mem_mb=RES["extract"]["mem_mb"],
        runtime=RES["extract"]["runtime"],
    log:
        f"{WORK}/logs/extract/{{dataset}}/{{method}}/s{{seed}}@{{test}}.log",
    shell:
        "{params.cmd} 2> {log}"


rule evaluate_cross:
    input:
        f"{WORK}/runs/{{dataset}}/{{method}}/s{{seed}}/features-{{test}}.npz",
    output:
        f"{WORK}/metrics/{{dataset}}/{{method}}/s{{seed}}@{{test}}.json",
    params:
        cmd=lambda w: G.evaluate(cell_of(w), w.test).cmd,
        config=PARAMS["eval"],
    resources:
        **RES["light"],
    log:
        f"{WORK}/logs/evaluate/{{dataset}}/{{method}}/s{{seed}}@{{test}}.log",
    shell:
        "{params.cmd} 2> {log}"
