package transfer

// CrashAfterRecord makes r stop each move for which f returns true after
// its history row is written and before its source is removed, as a crash
// there would.
func CrashAfterRecord(r *Runner, f func(src string) bool) { r.crashAfterRecord = f }

// ChangeSeen reports whether a watcher told s of a change in name's source
// since its last run started.
func ChangeSeen(s *Scheduler, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state[name]
	return st != nil && st.changed
}

// RenameHook makes each archive rename of r return f's error first when
// f returns one (syscall.EXDEV: as across file systems).
func RenameHook(r *Runner, f func(from, to string) error) { r.renameHook = f }
