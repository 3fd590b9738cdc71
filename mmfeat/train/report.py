"""The comparison table a run prints: unimodal baselines, the fused model, modality subsets."""


def _row(label, m, keys):
    return f"{label:<34}" + "".join(f"{m.get(k, float('nan')):>10.3f}" for k in keys)


def format_table(metrics: dict, title: str | None = None) -> str:
    """A plain-text table of test metrics."""
    keys = {"multiclass": ["accuracy", "macro_f1", "ece", "nll"], "multilabel": ["macro_f1", "auroc"],
            "regression": ["mae", "rmse"]}[metrics["task"]]
    lines = [title] if title else []
    lines.append(f"{'test':<34}" + "".join(f"{k:>10}" for k in keys))
    for name, m in metrics.get("unimodal", {}).items():
        lines.append(_row(f"unimodal {name}", m["test"], keys))
    if "joint" in metrics:
        label = f"joint ({metrics['joint']['fusion']})"
    elif "sequential" in metrics:
        label = f"sequential ({' > '.join(metrics['sequential']['order'])})"
    else:
        label = "model"
    lines.append(_row(label, metrics["test"], keys))
    for subset, m in metrics.get("subsets", {}).items():
        lines.append(_row(f"  subset {subset}", m, keys))
    return "\n".join(lines)
