# Tables, figures and results/REPORT.md, each from the metrics of the cells it declares.


rule table:
    input:
        lambda w: G.table(f"{w.paper}/{w.table}").deps,
    output:
        md="results/tables/{paper}/{table}.md",
        csv="results/tables/{paper}/{table}.csv",
        tex="results/tables/{paper}/{table}.tex",
    params:
        cmd=lambda w: G.table(f"{w.paper}/{w.table}").cmd,
        config=lambda w: [PARAMS["seeds"], PARAMS["stand_ins"]],
    resources:
        **RES["light"],
    log:
        f"{WORK}/logs/table/{{paper}}/{{table}}.log",
    shell:
        "{params.cmd} 2> {log}"


rule figure:
    input:
        lambda w: G.figure(f"{w.paper}/{w.figure}").deps,
    output:
        "results/figures/{paper}/{figure}.png",
    params:
        cmd=lambda w: G.figure(f"{w.paper}/{w.figure}").cmd,
    resources:
        **RES["light"],
    log:
        f"{WORK}/logs/figure/{{paper}}/{{figure}}.log",
    shell:
        "{params.cmd} 2> {log}"


rule claims:
    input:
        G.claims_stage().deps,
    output:
        md="results/claims.md",
        csv="results/claims.csv",
    params:
        cmd=G.claims_stage().cmd,
        config=lambda w: [PARAMS["seeds"], PARAMS["stand_ins"]],
    resources:
        **RES["light"],
    log:
        f"{WORK}/logs/claims.log",
    shell:
        "{params.cmd} 2> {log}"


rule report:
    input:
        [t for t in TARGETS if t != G.report()],
    output:
        G.report(),
    params:
        cmd=G.report_stage().cmd,
    resources:
        **RES["light"],
    log:
        f"{WORK}/logs/report.log",
    shell:
        "{params.cmd} 2> {log}"
