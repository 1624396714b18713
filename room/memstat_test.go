package room

import "runtime"

// heapInUse returns the live Go heap after a full GC.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func runtimeKeepAlive(x any) { runtime.KeepAlive(x) }
