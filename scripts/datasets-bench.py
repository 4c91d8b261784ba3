"""The pandas peer of the datasets benchmark (tests/benches/datasets.rs):
read the same CSV with `read_csv` and compute the same profile figures
Alatar's profile holds (per column: count, nulls, unique, min, max, mean,
standard deviation, quartiles for numbers, top values for text; exact
duplicate rows), timed on this machine. Prints one JSON object: the
seconds it took and the figures, so the benchmark can compare them with
ours.

Usage: python3 scripts/datasets-bench.py FILE.csv
"""

import json
import sys
import time


def main(path):
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(path)
    read = time.perf_counter() - started
    columns = {}
    for name in frame.columns:
        column = frame[name]
        figures = {
            "count": int(column.notna().sum()),
            "nullCount": int(column.isna().sum()),
            "uniqueCount": int(column.nunique(dropna=True)),
        }
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            q1, median, q3 = column.quantile([0.25, 0.5, 0.75]).tolist()
            figures.update(
                min=float(column.min()),
                max=float(column.max()),
                mean=float(column.mean()),
                stdDev=float(column.std()),
                q1=q1,
                median=median,
                q3=q3,
            )
        else:
            top = column.value_counts(dropna=True).head(5)
            figures["topValues"] = [[str(k), int(v)] for k, v in top.items()]
        columns[name] = figures
    duplicates = int(frame.duplicated().sum())
    total = time.perf_counter() - started
    print(
        json.dumps(
            {
                "readSeconds": read,
                "totalSeconds": total,
                "rowCount": int(len(frame)),
                "duplicateRowCount": duplicates,
                "columns": columns,
                "pandas": pd.__version__,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
