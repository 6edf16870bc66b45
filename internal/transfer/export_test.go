package transfer

// CrashAfterRecord makes r stop each move for which f returns true after
// its history row is written and before its source is removed, as a crash
// there would.
func CrashAfterRecord(r *Runner, f func(src string) bool) { r.crashAfterRecord = f }
