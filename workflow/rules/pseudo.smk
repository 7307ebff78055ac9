# Pseudo-labels (person masks, keypoints) per dataset; the backend is chosen in params.yaml.


rule pseudo_labels:
    input:
        f"{WORK}/prepared/{{dataset}}/index.csv",
    output:
        directory(f"{WORK}/pseudo/{{dataset}}"),
    params:
        cmd=lambda w: G.pseudo_labels(w.dataset).cmd,
        config=PARAMS["pseudo_labels"],
    resources:
        **RES["light"],
    log:
        f"{WORK}/logs/pseudo_labels/{{dataset}}.log",
    shell:
        "{params.cmd} 2> {log}"
