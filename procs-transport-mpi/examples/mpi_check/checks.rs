//! The conformance checks run on rank 0, each under `step`.

use super::*;

pub(crate) fn check_all() {
    let size = procs_transport_mpi::world_size().expect("under MPI");
    assert!(size >= 2, "run with at least 2 ranks (mpirun -np 3)");
    let workers = size - 1;
    let pool = Pool::builder()
        .attach(MpiTransport::new().expect("rank 0 of an MPI job"))
        .build()
        .expect("the pool attaches");
    assert_eq!(pool.workers(), workers);

    step("every worker rank serves, none is rank 0", || {
        let me = std::process::id();
        let seen: Vec<(Option<usize>, u32)> = pool
            .pmap(whoami_after, vec![100u64; workers * 3])
            .collect::<Result<_, _>>()
            .unwrap();
        for (rank, pid) in &seen {
            let rank = rank.expect("a worker rank");
            assert!((1..size).contains(&rank), "rank {rank} of {size}");
            assert_ne!(*pid, me, "a call ran on rank 0");
        }
        let mut ranks: Vec<usize> = seen.iter().filter_map(|s| s.0).collect();
        ranks.sort_unstable();
        ranks.dedup();
        println!("  calls ran on ranks {ranks:?}");
        assert_eq!(
            ranks,
            (1..size).collect::<Vec<_>>(),
            "not every rank served"
        );
    });

    step("round trips", || {
        let squares: Vec<u64> = pool
            .pmap(square, 0..2000u64)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(squares, (0..2000u64).map(|x| x * x).collect::<Vec<_>>());
        let started = Instant::now();
        for i in 0..300u64 {
            assert_eq!(pool.call(proc!(square(i))).unwrap(), i * i);
        }
        println!(
            "  300 calls one after another: {:.2?} each",
            started.elapsed() / 300
        );
        let text = "héllo, wörld ".repeat(100);
        assert_eq!(pool.call(proc!(echo(text.clone()))).unwrap(), text);
        let (a, b, c) = pool.call((
            proc!(square(12)),
            proc!(echo("mixed".into())),
            proc!(whoami()),
        ));
        assert_eq!((a.unwrap(), b.unwrap().as_str()), (144, "mixed"));
        assert!(c.unwrap().0.is_some());
    });

    step("ordering", || {
        let inputs: Vec<(u32, u64)> = (0..60u32).map(|i| (i, u64::from(i * 7 % 5) * 3)).collect();
        let results: Vec<(u32, Vec<u8>)> = pool
            .pmap(slow_tagged, inputs.clone())
            .collect::<Result<_, _>>()
            .unwrap();
        for ((i, _), (j, payload)) in inputs.iter().zip(&results) {
            assert_eq!(i, j, "results out of order");
            assert_eq!(payload.len(), (*i as usize * 997) % 70_000);
            assert!(payload.iter().all(|&b| b == *i as u8));
        }
    });

    step("empty payloads", || {
        pool.call(proc!(nothing())).unwrap();
        assert_eq!(pool.call(proc!(echo(String::new()))).unwrap(), "");
        assert!(pool.call(proc!(echo_bytes(Vec::new()))).unwrap().is_empty());
        assert!(pool.call(proc!(make_bytes(0))).unwrap().is_empty());
        let units: Vec<()> = pool
            .call((0..50).map(|_| proc!(nothing())))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(units.len(), 50);
    });

    step(
        "large payloads (16 and 64 MiB each way, sizes around MPI's eager limits)",
        || {
            for len in [
                4095,
                4096,
                4097,
                12 << 10,
                (64 << 10) - 1,
                64 << 10,
                (64 << 10) + 1,
                1 << 20,
            ] {
                let bytes = pattern(len);
                assert_eq!(pool.call(proc!(echo_bytes(bytes.clone()))).unwrap(), bytes);
            }
            for mib in [16usize, 64] {
                let len = mib << 20;
                let started = Instant::now();
                let bytes = pattern(len);
                let back = pool.call(proc!(echo_bytes(bytes.clone()))).unwrap();
                assert!(back == bytes, "{mib} MiB came back changed");
                let made = pool.call(proc!(make_bytes(len))).unwrap();
                assert!(made == bytes, "{mib} MiB made by a worker differ");
                println!(
                    "  {mib} MiB: there and back, then back alone, in {:.2?}",
                    started.elapsed()
                );
            }
        },
    );

    step("a panic is a task error; the pool still serves", || {
        match pool.call(proc!(boom(7))) {
            Err(Error::Panicked { panic, .. }) => assert_eq!(panic.message, "boom at 7"),
            other => panic!("expected a panic, got {other:?}"),
        }
        let mixed: Vec<Result<u64, Error>> = pool
            .call((0..10u64).map(|i| {
                if i == 4 {
                    proc!(boom(i))
                } else {
                    proc!(square(i))
                }
            }))
            .collect();
        for (i, result) in mixed.iter().enumerate() {
            match (i, result) {
                (4, Err(Error::Panicked { panic, .. })) => assert_eq!(panic.message, "boom at 4"),
                (4, other) => panic!("expected a panic, got {other:?}"),
                (i, Ok(v)) => assert_eq!(*v, (i * i) as u64),
                (_, Err(e)) => panic!("unexpected error {e}"),
            }
        }
        assert_eq!(pool.call(proc!(square(9))).unwrap(), 81);
    });

    step("message limits fail their call, not the pool", || {
        let small = Pool::builder()
            .attach(MpiTransport::new().unwrap())
            .max_message_size(1 << 20)
            .build()
            .unwrap();
        let request = small.call(proc!(echo_bytes(vec![1; 2 << 20])));
        assert!(
            matches!(request, Err(Error::TooLarge { .. })),
            "request: {request:?}"
        );
        let answer = small.call(proc!(make_bytes(2 << 20)));
        let answer = answer.expect_err("a 2 MiB answer over a 1 MiB limit");
        println!(
            "  an answer over the limit: {answer} ({:?})",
            std::error::Error::source(&answer).map(ToString::to_string)
        );
        assert_eq!(small.call(proc!(make_bytes(1000))).unwrap(), pattern(1000));
        assert_eq!(pool.call(proc!(square(5))).unwrap(), 25);
    });

    step(
        "settings an attached pool cannot honour are refused",
        || {
            let refusals = [
                Pool::builder()
                    .attach(MpiTransport::new().unwrap())
                    .timeout(Duration::from_secs(1))
                    .build(),
                Pool::builder()
                    .attach(MpiTransport::new().unwrap())
                    .max_tasks_per_worker(5)
                    .build(),
                Pool::builder()
                    .attach(MpiTransport::new().unwrap())
                    .workers(workers + 1)
                    .build(),
            ];
            for refusal in refusals {
                assert!(
                    matches!(refusal, Err(Error::InvalidSetting { .. })),
                    "{refusal:?}"
                );
            }
        },
    );

    step(
        "a per-call deadline is refused on a rank, which procs cannot kill",
        || {
            let late = pool.call(proc!(nap(300)).timeout(Duration::from_millis(50)));
            assert!(
                matches!(
                    late,
                    Err(Error::InvalidSetting {
                        setting: "timeout",
                        ..
                    })
                ),
                "{late:?}"
            );
            assert_eq!(pool.call(proc!(square(6))).unwrap(), 36);
        },
    );

    step(
        "the default pool attaches to the ranks, next to other pools",
        || {
            assert_eq!(Pool::global().workers(), workers);
            let (rank, pid) = call(proc!(whoami())).unwrap();
            assert!(rank.is_some_and(|r| r >= 1), "{rank:?}");
            assert_ne!(pid, std::process::id());
            // Three pools at once, from three threads, on the same ranks.
            std::thread::scope(|s| {
                let a = s.spawn(|| pmap(square, 0..500u64).collect::<Result<Vec<_>, _>>());
                let b = s.spawn(|| pool.pmap(square, 0..500u64).collect::<Result<Vec<_>, _>>());
                let c = s.spawn(|| {
                    let third = Pool::builder()
                        .attach(MpiTransport::new().unwrap())
                        .build()
                        .unwrap();
                    third.pmap(square, 0..500u64).collect::<Result<Vec<_>, _>>()
                });
                let expected: Vec<u64> = (0..500u64).map(|x| x * x).collect();
                for handle in [a, b, c] {
                    assert_eq!(handle.join().unwrap().unwrap(), expected);
                }
            });
            // Pools come and go; the ranks stay.
            for _ in 0..20 {
                let short = Pool::builder()
                    .attach(MpiTransport::new().unwrap())
                    .build()
                    .unwrap();
                assert_eq!(short.call(proc!(square(3))).unwrap(), 9);
            }
        },
    );

    step(
        "a local pool on rank 0 spawns workers that are not ranks",
        || {
            // Its workers inherit the launcher's variables from rank 0; they
            // must not take themselves for ranks.
            let local = Pool::builder()
                .transport(procs::PipeTransport::default())
                .workers(2)
                .build()
                .unwrap();
            let (rank, pid) = local.call(proc!(whoami())).unwrap();
            assert_eq!(rank, None, "a local worker joined the MPI job");
            assert_ne!(pid, std::process::id());
            assert_eq!(local.call(proc!(square(11))).unwrap(), 121);
        },
    );

    step("rank 0 sleeps while the ranks work", || {
        let tasks = workers * 2;
        let (cpu_before, started) = (cpu_time(), Instant::now());
        let naps: Vec<u64> = pool
            .pmap(nap, vec![1000u64; tasks])
            .collect::<Result<_, _>>()
            .unwrap();
        let (cpu, wall) = (cpu_time() - cpu_before, started.elapsed());
        assert_eq!(naps.len(), tasks);
        let share = cpu.as_secs_f64() / wall.as_secs_f64();
        println!(
            "  {tasks} tasks of 1 s: {wall:.2?} wall, rank 0 used {cpu:.2?} of CPU ({:.1}%)",
            share * 100.0
        );
        assert!(
            share < 0.5,
            "rank 0 used {:.0}% of a core while waiting",
            share * 100.0
        );
    });

    step("the quickstart", quickstart);
}
