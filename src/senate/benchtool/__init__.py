"""Load driver behind `senate bench` (driver.py); the cluster comparison is bench/."""
