package local

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/ferrymft/ferry/internal/storage"
)

// oDirectory makes opening a non-directory fail without opening it (a FIFO
// would block).
const oDirectory = unix.O_DIRECTORY

// statFS runs fstatfs on an O_PATH descriptor of name: it needs no read
// permission and cannot block or have side effects on special files.
func statFS(root *os.Root, name string) (storage.Usage, error) {
	f, err := root.OpenFile(name, unix.O_PATH, 0)
	if err != nil {
		return storage.Usage{}, err
	}
	defer f.Close()
	conn, err := f.SyscallConn()
	if err != nil {
		return storage.Usage{}, err
	}
	var st unix.Statfs_t
	var serr error
	if err := conn.Control(func(fd uintptr) { serr = unix.Fstatfs(int(fd), &st) }); err != nil {
		return storage.Usage{}, err
	}
	if serr != nil {
		return storage.Usage{}, os.NewSyscallError("fstatfs", serr)
	}
	// Block counts are in fragment-size units (f_frsize) since Linux 2.6.
	unit := uint64(st.Frsize)
	if unit == 0 {
		unit = uint64(st.Bsize)
	}
	return storage.Usage{
		Total:     st.Blocks * unit,
		Free:      st.Bfree * unit,
		Avail:     st.Bavail * unit,
		Files:     st.Files,
		FilesFree: st.Ffree,
		BlockSize: uint64(st.Bsize),
		NameMax:   uint64(st.Namelen),
	}, nil
}
