"""``mmfeat run --dry-run``: what a run would do, without Beam, without a model, without writing anything.

Each extract step's inputs are read here through the source API and compared with
the store (see ``mmfeat.jobs.plan``); train and predict steps are compared with the
job state of their last success. It takes no lock and creates nothing.
"""
from mmfeat.jobs import steps as job_steps
from mmfeat.jobs.plan import plan_extract
from mmfeat.jobs.runner import read_state, job_dir


def dry_run(job, *, force: bool = False) -> list[dict]:
    """Per step: kind, name, ``would_run`` and why, and for extract steps the row counts."""
    from mmfeat.beam.runners import resolve

    for item in job.features:
        resolve([*job.beam_args, *item.beam_args])
    steps = job_steps.build_steps(job)
    state = read_state(job_dir(job) / "state.json")
    out, running = [], set()
    for step in steps:
        entry = {"kind": step.kind, "name": step.name}
        if step.kind == "extract":
            counts = plan_extract(step.item, job.specs[job.features.index(step.item)], job.store)
            changes = counts["new"] + counts["changed"]
            entry.update(counts=counts, would_run=True,
                         why=f"{changes} row(s) to encode" if changes else "nothing to encode, loads no model")
            if changes:
                running.add(step.id)
        else:
            entry.update(_would_run(step, steps, running, state, job, force))
            if entry["would_run"]:
                running.add(step.id)
        out.append(entry)
    return out


def _would_run(step, steps, running: set, state: dict, job, force: bool) -> dict:
    changed = [s.id for s in job_steps.upstream(step, steps) if s.id in running]
    if force:
        return {"would_run": True, "why": "--force"}
    if changed:
        return {"would_run": True, "why": f"{', '.join(changed)} will change its inputs"}
    last = state.get(step.id)
    if last is None:
        return {"would_run": True, "why": "no successful run recorded in the job state"}
    if not job_steps.output_present(step, job.store):
        return {"would_run": True, "why": "its output is missing"}
    if job_steps.skip_key(step, job.store) != last["key"]:
        return {"would_run": True, "why": f"its inputs changed since job run {last['run_id']}"}
    return {"would_run": False, "why": f"inputs unchanged since job run {last['run_id']}"}


def format_plan(plan: list[dict]) -> str:
    """One line per step, for people."""
    lines = []
    for entry in plan:
        head = f"{entry['kind']:<8} {entry['name']}: "
        if "counts" in entry:
            c = entry["counts"]
            duplicates = f", {c['duplicate']} duplicate" if c["duplicate"] else ""
            head += (f"{c['new']} new, {c['changed']} changed, {c['stored']} stored, {c['bad']} bad{duplicates} "
                     f"({c['rows']} rows); ")
            if "problem" in c:
                head += f"PROBLEM: {c['problem']}; "
        lines.append(head + ("would run" if entry["would_run"] else "would skip") + f" ({entry['why']})")
    return "\n".join(lines)
