"""`clusterdns explain` and `clusterdns zone`: what the kubernetes plugin answers, and why."""
