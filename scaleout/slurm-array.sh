#!/usr/bin/env bash
# One poolscreen run per district as a Slurm job array: task N takes district dN.
# Every node sees the same file system; each district's export is under
# $ROUND/input/dN/ and every run publishes into $ROUND/history. Then, after the array:
#   sbatch --dependency=afterok:<array job id> --wrap \
#     "spark-submit scaleout/province.py --history $ROUND/history --round 2022-04-10 --out $ROUND/province"
# An example for your cluster (partition, paths and district count are yours to set).
#SBATCH --job-name=poolscreen-round
#SBATCH --array=1-16
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=00:30:00
set -euo pipefail
ROUND=${ROUND:-/shared/province/2022-04-10}
d="d${SLURM_ARRAY_TASK_ID}"
poolscreen run \
    --roster "$ROUND/input/$d/roster.csv" \
    --samples "$ROUND/input/$d/samples.csv" \
    --results "$ROUND/input/$d/results.csv" \
    --out "$ROUND/out/$d" \
    --history "$ROUND/history" --shard "$d" \
    --threads "${SLURM_CPUS_PER_TASK}" --quiet
