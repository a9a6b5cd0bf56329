package mail

// MaxUnrecorded is how many accepted mails a worker of the given
// concurrency may hold unrecorded (Worker.maxUnrecorded), for the crash
// test's bound.
func MaxUnrecorded(concurrency int) int { return concurrency * unrecordedPerSlot }
