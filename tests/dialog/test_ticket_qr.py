"""QR tickets: the booking confirmation (and the ticket again from "my tickets") carries the ticket as a QR image
at a signed, expiring URL the app serves; the image decodes to the wa.me link that opens the chat with
`/checkin CODE` typed. Forged or foreign tokens get 404."""
from __future__ import annotations

import io

import zxingcpp
from PIL import Image

from bot.core.signing import sign
from bot.events.qr import TICKET_PURPOSE, checkin_link
from tests.conftest import BOT_NUMBER, PUBLIC_BASE_URL
from tests.dialog.journey import WORDS, tickets
from tests.dialog.seam import Chat


def decoded(app, url: str) -> str:
    assert url.startswith(PUBLIC_BASE_URL + "/tickets/")
    response = app.test_client().get(url.removeprefix(PUBLIC_BASE_URL))
    assert response.status_code == 200 and response.mimetype == "image/png"
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
    return code.text


def test_the_booking_confirmation_sends_the_ticket_as_a_qr_code_of_the_checkin_link(events_bot):
    chat = Chat(events_bot, "+967719900001")
    booked = chat.walk(WORDS["en"]["events"], "1", "1", "1", "yes")
    assert booked.route[1] == "registered"
    [ticket] = tickets(events_bot, "+967719900001")
    [url] = booked.send["media_urls"]
    link = decoded(events_bot, url)
    assert link == checkin_link(BOT_NUMBER, ticket.ticket_code)
    assert link == f"https://wa.me/14155238886?text=/checkin%20{ticket.ticket_code}"


def test_the_same_image_comes_again_from_my_tickets(events_bot):
    chat = Chat(events_bot, "+967719900002")
    chat.walk(WORDS["ar"]["events"], "١", "١", "١", "نعم")
    [ticket] = tickets(events_bot, "+967719900002")
    shown = chat.walk(WORDS["ar"]["tickets"], "١")
    assert shown.route[1] == "ticket_details"
    assert decoded(events_bot, shown.send["media_urls"][0]) == checkin_link(BOT_NUMBER, ticket.ticket_code)


def test_forged_or_foreign_tokens_are_404(events_bot):
    client = events_bot.test_client()
    assert client.get("/tickets/not-a-token.png").status_code == 404
    foreign = sign("test-secret", "another-purpose", "ABC123")  # signed, but not for tickets
    assert client.get(f"/tickets/{foreign}.png").status_code == 404
    unknown = sign("test-secret", TICKET_PURPOSE, "NOSUCH")  # a valid token for no ticket
    assert client.get(f"/tickets/{unknown}.png").status_code == 404
