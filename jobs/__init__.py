"""What happens to a job, whatever brought it and whichever face shows it: submit it, route
an object event to the functions it triggers, scan a function's inputs, record how it ended.
`JobContext` builds what these need from settings, once per process."""
