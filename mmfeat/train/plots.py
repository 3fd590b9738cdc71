"""PNG plots of a run: learning curves, unimodal vs fused scores, the modality-subset table."""
from pathlib import Path


def write_plots(directory: Path, metrics: dict, histories: dict) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if histories:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, h in histories.items():
            ax.plot(h["val_loss"], label=f"{name} val")
            ax.plot(h["train_loss"], linestyle=":", label=f"{name} train")
        ax.set(xlabel="epoch", ylabel="loss", title="learning curves")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(directory / "learning_curves.png", dpi=100)
        plt.close(fig)
        written.append("learning_curves.png")
    key = "accuracy" if metrics["task"] == "multiclass" else "macro_f1" if metrics["task"] == "multilabel" else "rmse"
    bars = {f"uni:{n}": m["test"].get(key) for n, m in metrics.get("unimodal", {}).items()}
    bars[metrics["mode"]] = metrics["test"].get(key)
    for title, values, name in (("test " + key, bars, "comparison.png"),
                                ("test " + key + " by modality subset",
                                 {k: v.get(key) for k, v in metrics.get("subsets", {}).items()}, "subsets.png")):
        values = {k: v for k, v in values.items() if v is not None}
        if not values:
            continue
        fig, ax = plt.subplots(figsize=(max(5, len(values) * 1.2), 4))
        ax.bar(list(values), list(values.values()))
        ax.set(title=title, ylabel=key)
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        fig.tight_layout()
        fig.savefig(directory / name, dpi=100)
        plt.close(fig)
        written.append(name)
    return written
