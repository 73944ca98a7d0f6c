# RT initialdata: the reverse direction. On ticket create in General and Support, POST the ticket's text to
# the feedback-ml service (POST /v1/classify) and write the answer back: Priority (integer), the custom
# fields Issue Types / Sentiment / Urgency / Model Version, and an internal comment with the reasons.
#
# Site config (written by setup_rt.sh):
#   Set($FeedbackClassifyURL, 'http://127.0.0.1:8000/v1/classify');   # the default when unset
#   Set($FeedbackApiKey, '...');                                       # sent as "Authorization: Bearer ..."
#   Set($FeedbackClassifyTimeout, 5);                                  # seconds
#
# It never blocks ticket creation: a service that is down, slow (timeout) or answers non-2xx / bad JSON is
# logged through RT->Logger and the ticket is created without classification.
#
# Runs in the TransactionCreate stage, i.e. inside the DB transaction RT::Ticket::Create opened; that
# transaction commits after the scrips ran, so the updates below are committed together with the ticket.
# The updates go through a copy of the ticket loaded as RT->SystemUser: the scrip's own ticket object has
# the rights of whoever created the ticket (a customer via email may not be allowed to set Priority or CFs,
# and a denied update would otherwise be dropped silently). Nothing may die out of here: a die inside a
# scrip is caught by RT, but everything is wrapped in eval anyway so failures are logged with context.
#
# Tickets the feedback-ml connector created itself already carry a Model Version; they are skipped so a
# triaged ticket is not classified a second time (on subject + body rather than on the original text).

@Scrips = (
    {
        Description       => 'feedback-ml: classify new tickets (POST /v1/classify)',
        Queue             => ['General', 'Support'],
        ScripCondition    => 'On Create',
        ScripAction       => 'User Defined',
        Template          => 'Blank',
        CustomPrepareCode => 'return 1;',
        CustomCommitCode  => <<'PERL',
my $ticket_id = $self->TicketObj->id;
my %PRIORITY = (P1 => 100, P2 => 75, P3 => 50, P4 => 0);
my $ok = eval {
    require LWP::UserAgent;
    require HTTP::Request;
    require JSON;

    my $ticket = RT::Ticket->new(RT->SystemUser);
    $ticket->Load($ticket_id);
    die "cannot load ticket $ticket_id\n" unless $ticket->id;

    my $already = $ticket->FirstCustomFieldValue('Model Version');
    if (defined $already && length $already) {
        RT->Logger->debug("feedback-ml: ticket $ticket_id already classified (model $already), skipped");
        return 1;
    }

    my $url     = RT->Config->Get('FeedbackClassifyURL') || 'http://127.0.0.1:8000/v1/classify';
    my $key     = RT->Config->Get('FeedbackApiKey');
    my $timeout = RT->Config->Get('FeedbackClassifyTimeout') || 5;

    my $txn  = $self->TransactionObj;
    my $body = $txn->ContentObj ? $txn->Content(Type => 'text/plain') : '';
    $body = '' unless defined $body;
    my $subject = $ticket->Subject // '';
    my $text = substr("$subject\n$body", 0, 5000);    # the service rejects longer texts (max_text_chars)
    unless ($text =~ /\S/) {
        RT->Logger->info("feedback-ml: ticket $ticket_id has no text to classify, skipped");
        return 1;
    }
    my $item_id = "RT-$ticket_id";

    my $request = HTTP::Request->new(POST => $url);
    $request->header('Content-Type' => 'application/json');
    $request->header('Accept' => 'application/json');
    $request->header('Authorization' => "Bearer $key") if defined $key && length $key;
    $request->content(JSON->new->utf8->canonical->encode({ items => [ {
        id         => $item_id,
        text       => $text,
        channel    => 'rt',
        created_at => $ticket->CreatedObj->W3CDTF,
        ticket_id  => "$ticket_id",
        # this scrip writes the result back itself; the service must not push triage for it again
        push_to_ticketing => JSON::false,
    } ] }));

    my $ua = LWP::UserAgent->new(timeout => $timeout, agent => 'rt-feedback-ml/1', max_redirect => 0);
    my $started = time;
    my $response = $ua->request($request);
    unless ($response->is_success) {
        RT->Logger->warning(sprintf "feedback-ml: classify for ticket %d failed after %ds: %s",
                            $ticket_id, time - $started, $response->status_line);
        return 1;
    }
    # Bytes, not decoded_content: decode_json wants UTF-8 octets (Chinese reasons would make it die).
    my $answer = eval { JSON->new->utf8->decode($response->content) };
    unless (ref $answer eq 'HASH' && ref $answer->{results} eq 'ARRAY') {
        RT->Logger->warning("feedback-ml: classify for ticket $ticket_id answered no results: "
                            . substr($response->content // '', 0, 200));
        return 1;
    }
    my ($result) = grep { ref $_ eq 'HASH' && ($_->{id} // '') eq $item_id } @{ $answer->{results} };
    $result ||= $answer->{results}[0];
    unless (ref $result eq 'HASH') {
        RT->Logger->warning("feedback-ml: classify for ticket $ticket_id answered an empty result list");
        return 1;
    }

    my @failed;
    my $check = sub { my ($what, $status, $msg) = @_; push @failed, "$what: $msg" unless $status; };
    my $priority = $PRIORITY{ $result->{priority} // '' };
    $check->('Priority', $ticket->SetPriority($priority)) if defined $priority;

    my @labels = map { $_->{label} } grep { ref $_ eq 'HASH' && defined $_->{label} }
                 @{ $result->{issue_types} || [] };
    $check->("Issue Types=$_", $ticket->AddCustomFieldValue(Field => 'Issue Types', Value => $_))
        for @labels;
    my %single = (
        'Sentiment'     => ref $result->{sentiment} eq 'HASH' ? $result->{sentiment}{label} : undef,
        'Urgency'       => ref $result->{urgency} eq 'HASH' ? $result->{urgency}{level} : undef,
        'Model Version' => $answer->{model_version},
    );
    for my $field (sort keys %single) {
        next unless defined $single{$field} && length $single{$field};
        $check->($field, $ticket->AddCustomFieldValue(Field => $field, Value => "$single{$field}"));
    }

    my @types = map {
        sprintf '%s (%s, %.2f)', $_->{name} // $_->{label}, $_->{label}, $_->{score} // 0
    } grep { ref $_ eq 'HASH' && defined $_->{label} } @{ $result->{issue_types} || [] };
    my @lines = (
        'ML 分诊结果 (feedback-ml, RT scrip)',
        sprintf('优先级: %s | 紧急度: %s | 情感: %s (%+.2f)', $result->{priority} // '?',
                $single{Urgency} // '?', $single{Sentiment} // '?',
                ref $result->{sentiment} eq 'HASH' ? ($result->{sentiment}{score} // 0) : 0),
        '问题类型: ' . (@types ? join(', ', @types) : '未分类'),
        '', '判定原因:', (map { "- $_" } @{ $result->{reasons} || [] }),
    );
    push @lines, '- 无' unless @{ $result->{reasons} || [] };
    push @lines, '', '模型版本: ' . ($answer->{model_version} // '?');
    $check->('Comment', $ticket->Comment(Content => join("\n", @lines) . "\n"));

    RT->Logger->warning("feedback-ml: ticket $ticket_id: some updates failed: " . join('; ', @failed))
        if @failed;
    RT->Logger->info("feedback-ml: ticket $ticket_id classified as " . ($result->{priority} // '?'));
    1;
};
RT->Logger->error("feedback-ml: classify scrip for ticket $ticket_id died: $@") unless $ok;
return 1;
PERL
    },
);

1;
