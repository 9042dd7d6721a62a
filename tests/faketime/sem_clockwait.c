/*
 * sem_clockwait for a process run under libfaketime.
 *
 * Python 3.11 waits on a lock with a timeout through sem_clockwait(CLOCK_MONOTONIC),
 * which libfaketime 0.9.10 does not wrap: the deadline, computed from the faked
 * monotonic clock, reaches the kernel as is, and a `FAKETIME=+400d` process
 * waits 400 days (queue.get(timeout=...), Event.wait, Thread.join).
 * This shim turns the call into libfaketime's own sem_timedwait: it measures
 * the time left on the (faked) clock the caller used and waits that long from
 * the (faked) real-time clock. Load it before libfaketime:
 *
 *     LD_PRELOAD="sem_clockwait.so libfaketime.so.1" FAKETIME=+400d python ...
 *
 * scripts/test.sh builds it; it is never part of the product.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <semaphore.h>
#include <time.h>

int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *deadline)
{
    struct timespec now, until;
    long long left_ns;

    if (deadline->tv_nsec < 0 || deadline->tv_nsec >= 1000000000L) {
        errno = EINVAL;
        return -1;
    }
    if (clock_gettime(clock, &now) != 0)
        return -1;
    left_ns = (long long)(deadline->tv_sec - now.tv_sec) * 1000000000LL
              + (deadline->tv_nsec - now.tv_nsec);
    if (left_ns < 0)
        left_ns = 0;
    if (clock_gettime(CLOCK_REALTIME, &until) != 0)
        return -1;
    until.tv_sec += left_ns / 1000000000LL;
    until.tv_nsec += left_ns % 1000000000LL;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec += 1;
        until.tv_nsec -= 1000000000L;
    }
    return sem_timedwait(sem, &until);
}
