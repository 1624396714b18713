package server

import (
	"testing"
	"unsafe"
)

// TestConnSize pins the size of the per-connection state (the member and
// the frame parser included): every idle connection carries one, and 208
// bytes is a Go size class, so one more field costs 16-32 bytes per
// connection.
func TestConnSize(t *testing.T) {
	if size := unsafe.Sizeof(conn{}); size > 208 {
		t.Errorf("unsafe.Sizeof(conn{}) = %d; want <= 208", size)
	}
}
