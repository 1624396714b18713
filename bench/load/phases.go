package load

import (
	"errors"
	"time"

	"chatd/bench"
)

// connectPhase holds the logged-in clients idle (they answer pings), then
// measures the server's memory at full load and checks every login notice.
// CPU figures cover connecting and holding, for the server, the generator
// and the machine alike.
func connectPhase(env *Env, spec Spec, srv *group, pool *pool, res Result, before bench.ProcStat, busy0 time.Duration) ([]Result, error) {
	idle0, _ := srv.sample()
	end := time.Now().Add(spec.Hold)
	for time.Now().Before(end) {
		if _, err := pool.waitFor("hold", time.Second, env.Prog, func(Counters) bool { return false }); err != nil && !isTimeout(err) {
			return []Result{res}, err
		}
	}
	full, heapFull := srv.sample()
	if spec.Scenario == "connect" {
		res.LiveFull = srv.liveHeap() // after the RSS sample: the forced GC must not change it
	}
	res.IdleCPU = (full.CPU - idle0.CPU).Seconds()
	res.NodesFull = srv.nodes()
	m, errs, err := pool.collect(30 * time.Second)
	if err != nil {
		return []Result{res}, err
	}
	res.check(m, errs, srv)
	res.RSSFull, res.HeapFull = full.RSS, heapFull
	if res.Established > 0 {
		res.BytesPerConn = float64(full.RSS-before.RSS) / float64(res.Established)
		if heapFull >= 0 && res.HeapBefore >= 0 {
			res.HeapPerConn = float64(heapFull-res.HeapBefore) / float64(res.Established)
		}
		if res.LiveFull >= 0 && res.LiveBefore >= 0 {
			res.LivePerConn = float64(res.LiveFull-res.LiveBefore) / float64(res.Established)
		}
	}
	res.ServerCPU = (full.CPU - before.CPU).Seconds()
	busy1, _, _ := bench.SystemCPU()
	res.machineWindow(busy0, busy1)
	res.Logins, res.WantLogins = m.C.Logins, wantLogins(spec.Conns, spec.RoomSize)
	if res.Logins != res.WantLogins {
		res.problem("clients saw %d login notices; want %d", res.Logins, res.WantLogins)
	}
	return []Result{res}, nil
}

// wantLogins is the number of login notices n clients in rooms of size
// receive: in a room of m, the k-th to join sees its own and the m-k later.
func wantLogins(n, size int) int64 {
	var t int64
	for first := 0; first < n; first += size {
		m := int64(min(size, n-first))
		t += m * (m + 1) / 2
	}
	return t
}

// loadedBroadcast measures broadcast latency in a few rooms (Spec.SenderRooms
// with Spec.Senders senders each) while every client of the connect
// scenario stays connected: one open-loop window at Spec.OpenRate, every
// delivery to every member counted.
func loadedBroadcast(env *Env, spec Spec, t Target, srv *group, pool *pool, rs []Result) ([]Result, error) {
	res := newResult(spec, t, labelOf(spec.Name, "broadcast"))
	res.Scenario = "broadcast"
	res.Params["mode"] = "open"
	res.Login, res.LoginHist = rs[0].Login, rs[0].LoginHist
	res.ConnectSecs, res.ConnectRate = rs[0].ConnectSecs, rs[0].ConnectRate
	err := measure(env, spec, srv, pool, Command{Cmd: "measure", Open: true, Rate: spec.OpenRate}, int64(spec.RoomSize), &res)
	senders := 0
	for _, k := range pool.senders {
		senders += k
	}
	res.Params["senders_total"] = senders
	return append(rs, res), err
}

func isTimeout(err error) bool {
	return errors.Is(err, ErrTimeout)
}

// stormPhase drops every client at once and brings them all back at once.
func stormPhase(env *Env, spec Spec, srv *group, pool *pool, res Result) ([]Result, error) {
	m, errs, err := pool.collect(30 * time.Second)
	if err != nil {
		return []Result{res}, err
	}
	res.check(m, errs, srv) // the initial logins must be clean too
	res.Params["initial_login_p99_ms"] = res.Login.P99
	cpu0, _ := srv.sample()
	busy0, _, _ := bench.SystemCPU()
	start := time.Now()
	pool.send(Command{Cmd: "storm"})
	pool.phase++
	_, err = pool.waitFor("storm", 120*time.Second, env.Prog, func(s Counters) bool {
		return pool.phaseReached(pool.phase) && s.Complete+s.Failed+s.Dropped >= spec.Conns
	})
	res.StormSecs = secs(time.Since(start))
	cpu1, _ := srv.sample()
	res.ServerCPU = (cpu1.CPU - cpu0.CPU).Seconds()
	if err != nil {
		return []Result{res}, err
	}
	m, errs, err = pool.collect(30 * time.Second)
	if err != nil {
		return []Result{res}, err
	}
	res.check(m, errs, srv)
	busy1, _, _ := bench.SystemCPU()
	res.machineWindow(busy0, busy1)
	if m.LastLogin > 0 {
		res.StormSecs = float64(m.LastLogin-start.UnixNano()) / 1e9
	}
	return []Result{res}, nil
}

// measurePhases runs the closed-loop and then the open-loop measurement of
// broadcast or private on the same logged-in clients.
func measurePhases(env *Env, spec Spec, t Target, srv *group, pool *pool, setup Result) ([]Result, error) {
	m, errs, err := pool.collect(30 * time.Second)
	if err != nil {
		setup.Incomplete = true
		return []Result{setup}, err
	}
	setup.check(m, errs, srv)
	if !setup.OK {
		setup.Incomplete = true
		return []Result{setup}, nil
	}
	fanout := int64(spec.RoomSize)
	if spec.Scenario == "private" {
		fanout = 2 // the target and the echo to the sender
	}
	var out []Result
	phases := []Command{{Cmd: "measure", Window: max(spec.Window, 1)}}
	if spec.OpenRate > 0 {
		phases = append(phases, Command{Cmd: "measure", Open: true, Rate: spec.OpenRate})
	}
	for _, cmd := range phases {
		label := labelOf(spec.Name, "closed")
		if cmd.Open {
			label = labelOf(spec.Name, "open")
		}
		res := newResult(spec, t, label)
		res.Login, res.LoginHist = setup.Login, setup.LoginHist
		res.ConnectSecs, res.ConnectRate = setup.ConnectSecs, setup.ConnectRate
		res.Params["mode"] = map[bool]string{false: "closed", true: "open"}[cmd.Open]
		if err := measure(env, spec, srv, pool, cmd, fanout, &res); err != nil {
			out = append(out, res)
			return out, err
		}
		out = append(out, res)
		if !res.OK {
			break
		}
	}
	return out, nil
}

func measure(env *Env, spec Spec, srv *group, pool *pool, cmd Command, fanout int64, res *Result) error {
	if cmd.Open {
		// Each worker sends its senders' share of the rate.
		total, all := cmd.Rate, 0
		for _, k := range pool.senders {
			all += k
		}
		pool.sendEach(func(i int) Command {
			c := cmd
			c.Rate = total * float64(pool.senders[i]) / float64(max(all, 1))
			return c
		})
	} else {
		pool.send(cmd)
	}
	pool.phase++
	label := "closed"
	if cmd.Open {
		label = "open"
	}
	// Every worker has reset its counters before any of them sends.
	if _, err := pool.waitFor("start", 10*time.Second, env.Prog, func(Counters) bool { return pool.phaseReached(pool.phase) }); err != nil {
		return err
	}
	cpu0, _ := srv.sample()
	busy0, _, _ := bench.SystemCPU()
	start := time.Now()
	pool.send(Command{Cmd: "go"})
	end := start.Add(spec.Duration)
	for time.Now().Before(end) {
		if _, err := pool.waitFor(label, time.Until(end), env.Prog, func(Counters) bool { return false }); err != nil && !isTimeout(err) {
			return err
		}
	}
	pool.send(Command{Cmd: "stop"})
	pool.phase++
	// Counters are read only once every worker has stopped sending, so
	// Sent is final when the drain target is computed from it.
	_, err := pool.waitFor("drain", 20*time.Second, env.Prog, func(s Counters) bool {
		return pool.phaseReached(pool.phase) && (s.Received >= s.Sent*fanout || s.Dropped > 0)
	})
	elapsed := time.Since(start)
	cpu1, _ := srv.sample()
	busy1, _, _ := bench.SystemCPU()
	if err != nil && !isTimeout(err) {
		return err
	}
	m, errs, err := pool.collect(30 * time.Second)
	if err != nil {
		return err
	}
	res.check(m, errs, srv)
	res.Sent, res.Delivered = m.C.Sent, m.C.Received
	res.Expected = m.C.Sent * fanout
	res.Loss = res.Expected - res.Delivered
	if res.Loss != 0 {
		res.problem("loss: %d of %d expected deliveries missing (negative: duplicates)", res.Loss, res.Expected)
	}
	if m.C.Foreign > 0 {
		res.problem("%d say messages without the generator's content", m.C.Foreign)
	}
	res.Seconds = secs(elapsed)
	if m.LastRecv > start.UnixNano() {
		// Up to the last delivery, not to when the coordinator noticed it.
		res.Seconds = float64(m.LastRecv-start.UnixNano()) / 1e9
	}
	res.DeliveriesPerSec = float64(res.Delivered) / res.Seconds
	res.MsgsPerSec = float64(res.Sent) / res.Seconds
	res.Latency, res.LatencyHist = summarize(m.Latency), m.Latency
	res.ServerCPU = (cpu1.CPU - cpu0.CPU).Seconds()
	res.machineWindow(busy0, busy1)
	if res.Delivered > 0 {
		res.CPUPerDeliv = res.ServerCPU * 1e9 / float64(res.Delivered)
	}
	if cpu0.Writes >= 0 && cpu1.Writes > cpu0.Writes {
		res.ServerWrites = cpu1.Writes - cpu0.Writes
		res.DelivPerWrite = float64(res.Delivered) / float64(res.ServerWrites)
	}
	return nil
}
