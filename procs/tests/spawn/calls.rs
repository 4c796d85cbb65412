//! Every form of `call` and `pmap`, in order, with real workers.

use super::*;

#[test]
fn results_come_in_input_order_whatever_the_durations() {
    let pool = pool(3);
    // Early items sleep longest, so later ones finish first.
    let durations = [60, 5, 40, 0, 25, 0, 50, 10, 0, 30, 1, 0];
    let items: Vec<(u32, u64)> = (0..).zip(durations).collect();
    let got: Vec<u32> = pool
        .pmap(sleep_then_echo, items.clone())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, (0..durations.len() as u32).collect::<Vec<_>>());

    // The same through `call` over an iterator.
    let procs = items.iter().map(|&(i, ms)| proc!(sleep_then_echo(i, ms)));
    let got: Vec<u32> = pool.call(procs).collect::<Result<_, _>>().unwrap();
    assert_eq!(got, (0..durations.len() as u32).collect::<Vec<_>>());
}
#[test]
fn call_one_proc() {
    assert_eq!(call(proc!(add(2, 3))).unwrap(), 5);
    assert_eq!(
        call(proc!(greet("Ada".into(), 2))).unwrap(),
        "hello Adahello Ada"
    );
    let p: Proc<u64> = proc!(square(12));
    assert_eq!(pool(1).call(p).unwrap(), 144);
}
#[test]
fn call_tuple_of_two() {
    let (a, b) = call((proc!(greet("Bob".into(), 1)), proc!(add(40, 2))));
    assert_eq!(a.unwrap(), "hello Bob");
    assert_eq!(b.unwrap(), 42);
}
#[test]
fn call_tuple_of_eight_different_types() {
    let (s, n, bytes, st, some, none, unit, (b, pair)) = {
        let (a, b, c, d, e, f, g, h) = call((
            proc!(greet("Cy".into(), 3)),
            proc!(add(u64::MAX - 1, 1)),
            proc!(bytes_of(5)),
            proc!(stats(vec![1, 2, 3, 6], "s".into())),
            proc!(first_even(vec![3, 5, 8, 10])),
            proc!(first_even(vec![1, 3])),
            proc!(nothing(7)),
            proc!(negate(false)),
        ));
        let pair = call(proc!(swap((-7, 'λ'))));
        (a, b, c, d, e, f, g, (h, pair))
    };
    assert_eq!(s.unwrap(), "hello Cyhello Cyhello Cy");
    assert_eq!(n.unwrap(), u64::MAX);
    assert_eq!(bytes.unwrap(), [0, 1, 2, 3, 4]);
    assert_eq!(
        st.unwrap(),
        Stats {
            name: "s".into(),
            count: 4,
            mean: 3.0,
            tags: vec!["v1".into(), "v2".into(), "v3".into(), "v6".into()],
        }
    );
    assert_eq!(some.unwrap(), Some(8));
    assert_eq!(none.unwrap(), None);
    unit.unwrap();
    assert!(b.unwrap());
    assert_eq!(pair.unwrap(), ('λ', -7));
}
#[test]
fn call_iterator_of_procs() {
    let results = call((0..20).map(|i| proc!(add(i, 100))));
    let got: Vec<u64> = results.collect::<Result<_, _>>().unwrap();
    assert_eq!(got, (100..120).collect::<Vec<_>>());

    // An empty iterator yields nothing.
    assert_eq!(call(Vec::<Proc<u64>>::new()).count(), 0);
}
#[test]
fn pmap_single_and_multi_argument_functions() {
    let squares: Vec<u64> = pmap(square, 0..100).collect::<Result<_, _>>().unwrap();
    assert_eq!(squares, (0..100).map(|x| x * x).collect::<Vec<_>>());

    let sums: Vec<u64> = pmap(add, (0..100).map(|i| (i, 2 * i)))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(sums, (0..100).map(|i| 3 * i).collect::<Vec<_>>());

    let greetings: Vec<String> = pmap(greet, [("x".to_string(), 1), ("y".to_string(), 2)])
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(greetings, ["hello x", "hello yhello y"]);

    assert_eq!(pmap(square, std::iter::empty()).count(), 0);
}
#[test]
fn pmap_ten_thousand_small_tasks_matches_serial() {
    let pool = pool(2);
    let got: Vec<u64> = pool.pmap(mix, 0..10_000).collect::<Result<_, _>>().unwrap();
    let want: Vec<u64> = (0..10_000).map(mix).collect();
    assert_eq!(got.len(), 10_000);
    assert_eq!(got, want);
}
#[test]
fn sixteen_mib_argument_and_result() {
    // One call carries both ways: 16 MiB in, 16 MiB of different content out.
    const LEN: usize = 16 << 20;
    let pool = pool(1);

    let input = pattern(LEN, 7);
    let want: Vec<u8> = input.iter().rev().map(|b| b.wrapping_add(1)).collect();
    let out = pool.call(proc!(transform(input))).unwrap();
    assert_eq!(out.len(), LEN);
    assert!(out == want, "the transformed 16 MiB differ");
}
#[test]
fn one_pool_serves_many_calls() {
    let pool = pool(2);
    for i in 0..50u64 {
        match i % 3 {
            0 => assert_eq!(pool.call(proc!(add(i, i))).unwrap(), 2 * i),
            1 => {
                let (a, b) = pool.call((proc!(square(i)), proc!(negate(i % 2 == 0))));
                assert_eq!((a.unwrap(), b.unwrap()), (i * i, i % 2 != 0));
            }
            _ => {
                let got: Vec<u64> = pool
                    .pmap(square, i..i + 5)
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(got, (i..i + 5).map(|x| x * x).collect::<Vec<_>>());
            }
        }
    }
    // Clones share the workers.
    let clone = pool.clone();
    assert_eq!(clone.workers(), 2);
    assert_eq!(clone.call(proc!(add(1, 1))).unwrap(), 2);
}
#[test]
fn zero_argument_function() {
    assert_eq!(call(proc!(forty_two())).unwrap(), 42);
    let got: Vec<u64> = pmap(forty_two, [(), (), ()])
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, [42, 42, 42]);
}
#[test]
fn single_worker_pool_runs_everything() {
    let pool = pool(1);
    assert_eq!(pool.workers(), 1);
    let got: Vec<u64> = pool.pmap(square, 0..200).collect::<Result<_, _>>().unwrap();
    assert_eq!(got, (0..200).map(|x| x * x).collect::<Vec<_>>());
    let (a, b, c) = pool.call((proc!(add(1, 2)), proc!(forty_two()), proc!(pinned(1))));
    assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (3, 42, -1));
}
#[test]
fn call_iterator_of_different_functions_with_one_return_type() {
    let procs = vec![
        proc!(add(1, 2)),
        proc!(square(4)),
        proc!(forty_two()),
        proc!(mix(0)),
    ];
    let got: Vec<u64> = call(procs).collect::<Result<_, _>>().unwrap();
    assert_eq!(got, [3, 16, 42, mix(0)]);
}
#[test]
fn many_threads_share_one_pool() {
    let pool = pool(2);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let pool = &pool;
                s.spawn(move || {
                    let got: Vec<u64> = pool
                        .pmap(add, (0..200).map(|i| (i, t * 1000)))
                        .collect::<Result<_, _>>()
                        .unwrap();
                    assert_eq!(got, (0..200).map(|i| i + t * 1000).collect::<Vec<_>>());
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    });
}
#[test]
fn unordered_results_come_as_they_complete_each_exactly_once() {
    let pool = Pool::builder().workers(2).build().expect("pool starts");
    // The first call sleeps long enough that every other finishes first.
    let items = (0..40u32).map(|i| (i, if i == 0 { 1500 } else { 0 }));
    let results: Vec<(usize, u32)> = pool
        .pmap_unordered(sleep_then_echo, items)
        .map(|(index, result)| (index, result.expect("no failures")))
        .collect();
    assert_eq!(results.len(), 40);
    assert_ne!(results[0].0, 0, "the slow call held back the others");
    assert_eq!(results.last().map(|r| r.0), Some(0), "{results:?}");
    let mut seen = [false; 40];
    for (index, value) in results {
        assert_eq!(index as u32, value);
        assert!(
            !std::mem::replace(&mut seen[index], true),
            "index {index} twice"
        );
    }
    // Tiny calls are batched; order is gone but nothing is lost.
    let mut sums: Vec<(usize, u64)> = pool
        .pmap_unordered(add, (0..20_000u64).map(|i| (i, i)))
        .map(|(i, r)| (i, r.expect("no failures")))
        .collect();
    sums.sort_unstable();
    assert!(
        sums.iter()
            .enumerate()
            .all(|(i, &(j, s))| i == j && s == 2 * i as u64)
    );
}
