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
