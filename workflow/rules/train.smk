# Training, one job per cell (dataset x method x seed); `params.config` reruns a cell whose config changed.


rule train:
    input:
        index=f"{WORK}/prepared/{{dataset}}/index.csv",
        pseudo=f"{WORK}/pseudo/{{dataset}}",
        cache=lambda w: G.cell_cache(cell_of(w)),
    output:
        model=f"{WORK}/runs/{{dataset}}/{{method}}/s{{seed}}/model.pt",
        live=directory(f"{WORK}/runs/{{dataset}}/{{method}}/s{{seed}}/live"),
    params:
        cmd=lambda w: G.train(cell_of(w)).cmd,
        config=lambda w: G.cell_config(cell_of(w)),
    threads: RES["train"]["threads"]
    resources:
        cpus_per_task=RES["train"]["threads"],
        mem_mb=RES["train"]["mem_mb"],
        runtime=RES["train"]["runtime"],
        gpu=RES["train"].get("gpu", 0),
    log:
        f"{WORK}/logs/train/{{dataset}}/{{method}}/s{{seed}}.log",
    shell:
        "{params.cmd} 2> {log}"
