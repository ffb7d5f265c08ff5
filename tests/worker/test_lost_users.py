"""The clock's lost-user sweep (`requeue_lost_users`): a user with a waiting turn whom no run holds and who is on
no ready list (their worker was killed with them) is queued again within seconds; a user waiting on the list,
or held by a live run, is left alone — unlike the older requeue sweep, which pushes everyone past its age."""
from bot.core.queue import READY_KEY
from bot.wiring import runtime
from bot.worker.clock import build_scheduler, start_lost_user_sweep, sweep_lost_users
from tests.conftest import send


def lost(app) -> int:
    with app.app_context():
        return runtime().replier.requeue_lost_users(0)


def test_only_users_nobody_will_answer_are_queued_again(app, client, redis_client):
    send(client, "+967712000951", "answer me")  # stored; its user pushed to the ready list
    assert redis_client.llen(READY_KEY) == 1
    assert lost(app) == 0, "the user is on the ready list: a run will take them"
    with app.app_context():
        locks = runtime().locks
        user_id, lock = locks.take_ready(READY_KEY)  # a run takes the user, then its worker is killed
    assert lost(app) == 0, "held: as far as anyone can tell, its holder is answering"
    locks.keeper.let_go(locks.key_for(user_id))  # the killed worker's keeper died with it...
    redis_client.delete(locks.key_for(user_id))  # ...and the lock ran out
    assert lost(app) == 1
    assert redis_client.lrange(READY_KEY, 0, -1) == [str(user_id).encode()]
    assert lost(app) == 0, "queued once"


def test_the_clock_sweeps_for_lost_users_in_a_thread_not_an_rq_job(make_app, redis_client, monkeypatch):
    monkeypatch.setattr("bot.conversation.runs.LOST_GRACE_SECONDS", 0)
    app = make_app(reminder_check_seconds=120)
    send(app.test_client(), "+967712000952", "answer me")
    redis_client.delete(READY_KEY)  # the user's run was lost
    assert sweep_lost_users(app) == 1
    with app.app_context():
        scheduler = build_scheduler(runtime().redis, runtime().settings)
    assert "lost" not in " ".join(job.func_name for job in scheduler.get_jobs())
    assert start_lost_user_sweep(app, 0) is None, "LOST_CHECK_SECONDS=0 turns it off"
