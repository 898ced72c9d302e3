"""The engines of the accelerator: one component per job, joined by the top through their signatures."""
