"""PNG plots of a run: learning curves, baselines vs the fused model, the modality-subset table.

Each model's train (dotted) and val (solid) curves share one colour and its restored
epoch is marked; every bar is labelled with its value and the number of rows it was scored on.
"""
from pathlib import Path


def metric_key(task: str) -> str:
    return {"multiclass": "accuracy", "multilabel": "macro_f1"}.get(task, "rmse")


def learning_curves(plt, histories: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = plt.get_cmap("tab20" if len(histories) > 10 else "tab10")
    for k, (name, h) in enumerate(histories.items()):
        colour = colours(k % colours.N)
        epochs = range(1, len(h["train_loss"]) + 1)
        ax.plot(epochs, h["train_loss"], linestyle=":", color=colour)
        has_val = any(v == v for v in h["val_loss"])  # NaN throughout: a refit without val rows
        if has_val:
            ax.plot(epochs, h["val_loss"], color=colour, label=name)
        best = h.get("best_epoch")
        if best:
            curve = h["val_loss"] if has_val else h["train_loss"]
            ax.plot([best], [curve[best - 1]], marker="o", color=colour, markeredgecolor="black",
                    label=None if has_val else f"{name} (train only)")
    ax.plot([], [], color="grey", label="val (solid)")
    ax.plot([], [], color="grey", linestyle=":", label="train (dotted)")
    ax.plot([], [], "o", color="grey", markeredgecolor="black", label="restored epoch")
    ax.set(xlabel="epoch", ylabel="loss", title="learning curves")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def bar_chart(plt, bars: dict, title: str, key: str, path: Path, highlight=()) -> None:
    """``bars``: label → (value, n)."""
    fig, ax = plt.subplots(figsize=(max(5, len(bars) * 1.1), 4))
    labels = list(bars)
    values = [bars[k][0] for k in labels]
    colours = ["tab:blue" if k in highlight else "tab:grey" for k in labels]
    rects = ax.bar(labels, values, color=colours)
    for rect, label in zip(rects, labels):
        value, n = bars[label]
        ax.annotate(f"{value:.3f}\nn={n}", (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                    ha="center", va="bottom", fontsize=7)
    ax.set(title=title, ylabel=key, ylim=(0, max(values) * 1.2 if values and max(values) > 0 else 1))
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_plots(directory: Path, metrics: dict, histories: dict) -> list:
    """Write learning_curves.png, comparison.png and subsets.png (those that have data); return their names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if histories:
        learning_curves(plt, histories, directory / "learning_curves.png")
        written.append("learning_curves.png")
    key = metric_key(metrics["task"])
    fused = metrics["mode"] if "joint" not in metrics else f"joint {metrics['joint']['fusion']}"
    comparison = {name: (m["test"][key], m["test"]["n"]) for name, m in metrics.get("baselines", {}).items()
                  if key in m["test"]}
    if key in metrics["test"]:
        comparison[fused] = (metrics["test"][key], metrics["test"]["n"])
    subsets = {k: (v[key], v["n"]) for k, v in metrics.get("subsets", {}).items() if key in v}
    for title, bars, name in ((f"test {key}: linear baselines and the fused model", comparison, "comparison.png"),
                              (f"test {key} of the fused model by modality subset", subsets, "subsets.png")):
        if bars:
            bar_chart(plt, bars, title, key, directory / name, highlight={fused})
            written.append(name)
    return written
