# Datasets: synthesize the embedded synthetic ones, then reduce every dataset to one index.


rule synthesize:
    output:
        directory(f"{WORK}/raw/{{dataset}}"),
    params:
        cmd=lambda w: G.synthesize(w.dataset).cmd,
        config=lambda w: G.dataset_cfg(w.dataset),
    resources:
        **RES["light"],
    log:
        f"{WORK}/logs/synthesize/{{dataset}}.log",
    shell:
        "{params.cmd} 2> {log}"


rule prepare:
    input:
        lambda w: [G.raw_root(w.dataset)] if G.is_synthetic(w.dataset) else [],
    output:
        f"{WORK}/prepared/{{dataset}}/index.csv",
        f"{WORK}/prepared/{{dataset}}/meta.json",
    params:
        cmd=lambda w: G.prepare(w.dataset).cmd,
    resources:
        **RES["light"],
    log:
        f"{WORK}/logs/prepare/{{dataset}}.log",
    shell:
        "{params.cmd} 2> {log}"


# Decode once: every image of a dataset's index at one input size, shared by that size's cells.
rule cache:
    input:
        f"{WORK}/prepared/{{dataset}}/index.csv",
    output:
        npy=f"{WORK}/cache/{{dataset}}/{{height}}x{{width}}.npy",
        rows=f"{WORK}/cache/{{dataset}}/{{height}}x{{width}}.json",
    params:
        cmd=lambda w: G.cache_stage(w.dataset, int(w.height), int(w.width)).cmd,
    threads: RES["extract"]["threads"]
    resources:
        cpus_per_task=RES["extract"]["threads"],
        mem_mb=RES["extract"]["mem_mb"],
        runtime=RES["extract"]["runtime"],
    log:
        f"{WORK}/logs/cache/{{dataset}}/{{height}}x{{width}}.log",
    shell:
        "{params.cmd} 2> {log}"
