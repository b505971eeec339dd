"""The audit of every study on made-up summaries (sisr audit): its template (a perfect reproduction), all values
equal, values mirrored within each column, and the template named as the quick tier. Prints the counts per study
as a Markdown table; the assertions behind these rows are in tests/test_audit.py.

    python benchmarks/audit_checks.py [--studies-dir studies]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sisr.report.audit import audit_summary, template

META = ("study", "run", "replica_of", "dataset", "scale", "tier", "config_hash", "status")


def variants(frame):
    metrics = [c for c in frame.columns if c not in META]
    equal, mirrored = frame.copy(), frame.copy()
    for column in metrics:
        equal[column] = frame.groupby("dataset")[column].transform("mean")
        mirrored[column] = frame[column].max() + frame[column].min() - frame[column]
    return {"template": (frame, "paper"), "equal values": (equal, "paper"), "mirrored": (mirrored, "paper"),
            "template --tier quick": (frame.assign(tier="quick"), "quick")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies-dir", default="studies")
    args = parser.parse_args()
    print("| study | summary | findings: holds / reversed / inconclusive (verdicts + indicative) | "
          "claims: reproduced / not reproduced / indicative / not comparable / quoted / not measured |")
    print("|---|---|---|---|")
    for path in sorted(Path(args.studies_dir).glob("*.yaml")):
        frame = template(path)
        for name, (summary, tier) in variants(frame).items():
            counts = audit_summary(path, summary, tier=tier).counts()
            f, c = counts["findings"], counts["claims"]
            print(f"| {path.stem} | {name} | {f['holds']} / {f['reversed']} / {f['inconclusive']} "
                  f"({f['indicative']} indicative) | {c['reproduced']} / {c['not_reproduced']} / {c['indicative']} / "
                  f"{c['not_comparable']} / {c['quoted']} / {c['not_measured']} |")


if __name__ == "__main__":
    main()
