package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times; it is 100 on
// every Linux architecture Go supports.
const clockTick = 100

// ProcStat is a sample of one process's resource use.
type ProcStat struct {
	CPU time.Duration // user + system time
	RSS int64         // resident set size, bytes (VmRSS)
	HWM int64         // peak resident set size, bytes (VmHWM)
	// Writes counts the write-family system calls (write, writev, sendto,
	// ...) the process has made (syscw of /proc/<pid>/io; -1 if unreadable).
	Writes int64
	Taken  time.Time
}

// ReadProcStat samples process pid from /proc (pid 0 means this process).
func ReadProcStat(pid int) (ProcStat, error) {
	dir := "/proc/self"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	s := ProcStat{Taken: time.Now()}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return s, err
	}
	// Fields after the command name, which may contain spaces: it ends at
	// the last ')'. utime and stime are fields 14 and 15 (proc(5)).
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("bench: parse %s/stat", dir)
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return s, fmt.Errorf("bench: parse %s/stat: %d fields", dir, len(f))
	}
	ut, _ := strconv.ParseInt(string(f[11]), 10, 64)
	st, _ := strconv.ParseInt(string(f[12]), 10, 64)
	s.CPU = time.Duration(ut+st) * time.Second / clockTick
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, err
	}
	s.RSS = statusKB(status, "VmRSS:")
	s.HWM = statusKB(status, "VmHWM:")
	s.Writes = -1
	if io, err := os.ReadFile(dir + "/io"); err == nil {
		if i := bytes.Index(io, []byte("syscw:")); i >= 0 {
			line := io[i+len("syscw:"):]
			if j := bytes.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			s.Writes, _ = strconv.ParseInt(string(bytes.TrimSpace(line)), 10, 64)
		}
	}
	return s, nil
}

// statusKB returns the value of a "Key:  1234 kB" line of /proc/<pid>/status
// in bytes.
func statusKB(status []byte, key string) int64 {
	i := bytes.Index(status, []byte(key))
	if i < 0 {
		return 0
	}
	line := status[i+len(key):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := bytes.Fields(line)
	if len(f) == 0 {
		return 0
	}
	kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
	return kb * 1024
}

// SystemCPU returns the CPU time the whole machine has spent busy (all
// states but idle and iowait) and in total since boot, from /proc/stat. The
// benchmark shares its cores with whatever else runs, and says so.
func SystemCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i]
	}
	f := bytes.Fields(line)
	if len(f) < 6 || string(f[0]) != "cpu" {
		return 0, 0, fmt.Errorf("bench: parse /proc/stat")
	}
	var ticks, idle int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(string(v), 10, 64)
		if i >= 8 { // guest time is already counted in user
			break
		}
		ticks += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	tick := time.Second / clockTick
	return time.Duration(ticks-idle) * tick, time.Duration(ticks) * tick, nil
}
