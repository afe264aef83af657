#pragma once

// Clang's thread-safety analysis (-Wthread-safety): the compiler proves that a field marked
// GUARDED_BY(mu) is only touched with mu held. Under any other compiler the macros vanish.
// Use them with jobs::Mutex and jobs::MutexLock (mutex.h); std::mutex is not annotated.

#if defined(__clang__)
#define JOBS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define JOBS_THREAD_ANNOTATION(x)
#endif

// A type that is a lock (a mutex) or holds one for its lifetime (a scoped lock).
#define CAPABILITY(name) JOBS_THREAD_ANNOTATION(capability(name))
#define SCOPED_CAPABILITY JOBS_THREAD_ANNOTATION(scoped_lockable)

// Fields: read or written only with the lock held; for a pointer, what it points to.
#define GUARDED_BY(x) JOBS_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) JOBS_THREAD_ANNOTATION(pt_guarded_by(x))

// Lock ordering between mutexes.
#define ACQUIRED_BEFORE(...) JOBS_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) JOBS_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))

// Functions: the caller must hold (REQUIRES) or must not hold (EXCLUDES) the lock.
#define REQUIRES(...) JOBS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) JOBS_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) JOBS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// Functions that take or give up a lock (no argument: `this`, for a lock type's own methods).
#define ACQUIRE(...) JOBS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) JOBS_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) JOBS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) JOBS_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) JOBS_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))

// Tells the analysis the lock is held here (checked at run time by the function, if at all).
#define ASSERT_CAPABILITY(x) JOBS_THREAD_ANNOTATION(assert_capability(x))
// A function returning a reference to the given lock.
#define RETURN_CAPABILITY(x) JOBS_THREAD_ANNOTATION(lock_returned(x))

// For code the analysis cannot follow; say why next to each use.
#define NO_THREAD_SAFETY_ANALYSIS JOBS_THREAD_ANNOTATION(no_thread_safety_analysis)
