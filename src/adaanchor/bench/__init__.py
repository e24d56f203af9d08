"""Built-in benchmarks: procedural scenes written as COCO keypoint datasets."""
