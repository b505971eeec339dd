"""Study files, the workflow config, the catalogue of datasets, the jobs' records and the cost plan (above
training: it resolves runs into training settings)."""
