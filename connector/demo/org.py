"""The demo's organisation as plain data: people in three roles, a 20-course catalogue and
one finished review cycle, the same for a given seed. Each vendor's sandbox turns it into its
own shapes (`connector.sandbox.kit`)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from connector.sandbox.kit import DemoOrg, DemoRating, DemoReview, Person

ROLES = {
    "Account Executive": ["Negotiation", "Customer focus", "Communication", "Time management"],
    "Software Engineer": ["Technical depth", "Problem solving", "Data literacy", "Communication"],
    "Support Specialist": ["Customer focus", "Communication", "Time management",
                           "Problem solving"],
}
SCALES = {"Account Executive": 5, "Software Engineer": 10, "Support Specialist": 5}
FIRST = ["Ann", "Ben", "Cleo", "Dev", "Eva", "Finn", "Gia", "Hugo", "Ines", "Jon", "Kai", "Lena",
         "Milo", "Nora", "Omar", "Pia", "Quinn", "Rosa", "Sam", "Tara"]
LAST = ["Berg", "Costa", "Diaz", "Eng", "Fox", "Gray", "Hale", "Ito", "Jung", "Khan", "Lund",
        "Moss", "Nagy", "Ortiz", "Park"]


def course_catalogue() -> dict[str, str]:
    names = ["Negotiation Fundamentals", "Closing with Confidence", "Clear Business Writing",
             "Presenting with Impact", "Listening for Needs", "Customer Journey Basics",
             "Systems Design I", "Code Review Practice", "Structured Problem Solving",
             "Root Cause Analysis", "Data Literacy 101", "SQL for Everyone",
             "Prioritisation and Focus", "Time Management Essentials", "Difficult Conversations",
             "Feedback that Works", "Advanced Negotiation", "Service Recovery",
             "Debugging Strategies", "Dashboards that Matter"]
    return {str(101 + i): name for i, name in enumerate(names)}


def make_org(*, employees: int = 60, seed: int = 7, missing_learners: int = 2,
             cycle_end: date | None = None) -> DemoOrg:
    """People in three roles and one finished review cycle (the last half-year that ended)."""
    rng = random.Random(seed)
    today = datetime.now(UTC).date()
    if cycle_end is None:
        cycle_end = date(today.year, 6, 30) if today.month > 6 else date(today.year - 1, 12, 31)
    cycle_start = date(cycle_end.year, 1 if cycle_end.month == 6 else 7, 1)
    completed = min(today - timedelta(days=3), cycle_end + timedelta(days=14))
    roles = list(ROLES)
    people = []
    for i in range(employees):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        people.append(Person(id=101 + i, first=first, last=last,
                             email=f"{first}.{last}{i}@example.com".lower(),
                             role=roles[i % len(roles)]))
    reviews = []
    for p in people:
        top = SCALES[p.role]
        ratings = tuple(DemoRating(skill=skill, value=rng.randint(max(1, top // 5), top), top=top)
                        for skill in ROLES[p.role])
        reviews.append(DemoReview(person_id=p.id, period_start=cycle_start,
                                  period_end=cycle_end, due=cycle_end + timedelta(days=14),
                                  completed=completed, ratings=ratings))
    return DemoOrg(people=people, roles=ROLES, scales=SCALES, courses=course_catalogue(),
                   reviews=reviews, missing_learners=missing_learners)
