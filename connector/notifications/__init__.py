"""Notifications: tell the people who own the loop when something waits for them.

Optional and settings-driven (a chat incoming webhook and/or e-mail). What is worth a message
is read from the store (`occurrences.py`), each occurrence is sent once per channel
(`Store.notices` keeps what was sent, so restarts and other processes never repeat it), and
every message links to the console page where the decision is taken. Messages carry counts,
ids and our own error text, never names or e-mail addresses: chat rooms and mailboxes are
outside the connector's data-protection boundary.
"""

from connector.notifications.channels import Channel, ChannelError, Message, channels_from
from connector.notifications.notifier import Notifier, NotifyRound

__all__ = ["Channel", "ChannelError", "Message", "Notifier", "NotifyRound", "channels_from"]
