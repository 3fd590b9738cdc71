"""The comparison table a run prints: linear baselines, the fused model, modality subsets, and the verdict."""


def _row(label, m, keys):
    return f"{label:<34}{m.get('n', 0):>6}" + "".join(f"{m.get(k, float('nan')):>10.3f}" for k in keys)


def model_label(metrics: dict) -> str:
    if "joint" in metrics:
        return f"joint ({metrics['joint']['fusion']})"
    if "sequential" in metrics:
        return f"sequential ({' > '.join(metrics['sequential']['order'])})"
    return "model"


def format_table(metrics: dict, title: str | None = None) -> str:
    """A plain-text table of test metrics, ``n`` being the rows each line was scored on."""
    keys = {"multiclass": ["accuracy", "macro_f1", "ece", "nll"], "multilabel": ["macro_f1", "auroc"],
            "regression": ["mae", "rmse"]}[metrics["task"]]
    lines = [title] if title else []
    lines.append(f"{'test':<34}{'n':>6}" + "".join(f"{k:>10}" for k in keys))
    for name, m in metrics.get("baselines", {}).items():
        lines.append(_row(f"linear {name}", m["test"], keys))
    lines.append(_row(model_label(metrics), metrics["test"], keys))
    for subset, m in metrics.get("subsets", {}).items():
        lines.append(_row(f"  subset {subset}", m, keys))
    return "\n".join(lines)


def verdict_line(metrics: dict) -> str:
    """One sentence: does the fused model beat the best linear baseline on test, and by how much."""
    v = metrics.get("verdict")
    if not v:
        return "no linear baseline to compare with (see baselines_skipped in metrics.json)"
    word = "beats" if v["beats"] else "does NOT beat"
    return (f"{model_label(metrics)} {word} the best linear baseline ({v['best_baseline']}) on test: "
            f"{v['metric']} {v['fused']:.3f} vs {v['baseline']:.3f} ({v['margin']:+.3f})")
