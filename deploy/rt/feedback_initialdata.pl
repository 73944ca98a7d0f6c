# RT initialdata for the feedback-ml integration: queues, ticket custom fields, the API user and its rights.
# Loaded by setup_rt.sh into a freshly initialised database:
#   rt-setup-database-5 --action insert --datafile deploy/rt/feedback_initialdata.pl
# Not idempotent on its own (RT's insert duplicates objects), which is why setup_rt.sh resets the DB first.

my @queues = ('General', 'Support', 'Defects');    # General exists already (RT core data)

@Queues = (
    { Name => 'Support', Description => 'After-sales tickets, triaged by feedback-ml',
      CorrespondAddress => '', CommentAddress => '' },
    { Name => 'Defects', Description => 'Product defect alerts raised by feedback-ml',
      CorrespondAddress => '', CommentAddress => '' },
);

# Names are the contract with inference/ticketing/rt.py and the classify scrip.
@CustomFields = map {
    my ($name, $type, $description) = @$_;
    { Name => $name, Type => $type, LookupType => 'RT::Queue-RT::Ticket', Queue => [@queues],
      Description => $description }
} (
    ['Issue Types',        'FreeformMultiple', 'Issue type labels predicted by feedback-ml'],
    ['Sentiment',          'FreeformSingle',   'negative | neutral | positive'],
    ['Urgency',            'FreeformSingle',   'critical | high | medium | low'],
    ['Model Version',      'FreeformSingle',   'feedback-ml model version that classified the ticket'],
    ['SLA Due',            'FreeformSingle',   'SLA due time (ISO 8601) from the feedback-ml policy'],
    ['Feedback Event Key', 'FreeformSingle',   'Idempotency key of the push that created the ticket'],
    ['Defect Alert Id',    'FreeformSingle',   'Stable id of the defect alert this ticket tracks'],
);

# Token-only service account (no password): setup_rt.sh creates its auth token.
@Users = (
    { Name => 'feedback-bot', RealName => 'feedback-ml service', EmailAddress => 'feedback-bot@localhost',
      Privileged => 1, Comments => 'REST2 API user of the feedback-ml connector' },
);

@ACL = (
    map {
        my $right = $_;
        map { { UserId => 'feedback-bot', Queue => $_, Right => $right } } @queues
    } qw(SeeQueue ShowTicket CreateTicket ModifyTicket CommentOnTicket ShowTicketComments
         SeeCustomField ModifyCustomField)
);

1;
