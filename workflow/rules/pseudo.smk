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


# The backends report: a few images of each compared dataset labelled by each backend.
if G.pseudo_report_outs():
    rule pseudo_compare:
        input:
            f"{WORK}/prepared/{{dataset}}/index.csv",
        output:
            directory(f"{WORK}/pseudo_compare/{{dataset}}/{{backend}}"),
        params:
            cmd=lambda w: G.pseudo_compare_stage(w.dataset, w.backend).cmd,
            # whether the backend can run here: a compare stage that found it unavailable reruns once it can
            config=lambda w: [PARAMS["pseudo_labels"][w.backend], PARAMS["pseudo_report"]["max_images"],
                              pseudo_run.unavailable(w.backend, PARAMS["pseudo_labels"])],
        resources:
            **RES["light"],
        log:
            f"{WORK}/logs/pseudo_compare/{{dataset}}/{{backend}}.log",
        shell:
            "{params.cmd} 2> {log}"


    rule pseudo_report:
        input:
            lambda w: G.pseudo_report_stage().deps,
        output:
            G.pseudo_report_outs(),
        params:
            cmd=lambda w: G.pseudo_report_stage().cmd,
            config=PARAMS["pseudo_report"],
        resources:
            **RES["light"],
        log:
            f"{WORK}/logs/pseudo_report.log",
        shell:
            "{params.cmd} 2> {log}"
