/// Gatehouse's one stylesheet (served as /static/gatehouse.css): phone first, readable on a
/// laptop, printable sheets of cards. Our own, small, no web fonts, no CDN.
enum Stylesheet {
    static let css = #"""
        :root{--ink:#1b1f24;--muted:#5b6470;--line:#d5dae0;--bg:#f6f7f9;--card:#fff;--accent:#0b5cad;
        --ok:#0a7a33;--ok-bg:#e3f6e8;--bad:#b3261e;--bad-bg:#fde8e7;--warn:#8a5a00;--warn-bg:#fff4d6;
        font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
        *{box-sizing:border-box}
        body{margin:0;line-height:1.45;font-size:16px}
        main{max-width:68rem;margin:0 auto;padding:1rem}
        h1{font-size:1.5rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
        a{color:var(--accent)}
        code,.code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.92em;overflow-wrap:anywhere}
        .menu{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center;padding:.6rem 1rem;background:#12263f}
        .menu a{color:#fff;text-decoration:none;padding:.35rem 0}.menu a[aria-current]{border-bottom:2px solid #fff}
        .menu .brand{font-weight:700;margin-right:auto}
        .crumbs{font-size:.95rem;color:var(--muted);margin:0 0 .5rem}
        .tabs{display:flex;flex-wrap:wrap;gap:.5rem;margin:0 0 1rem;padding:0;list-style:none}
        .tabs a{display:inline-block;padding:.4rem .8rem;border:1px solid var(--line);border-radius:999px;background:var(--card);text-decoration:none}
        .tabs a[aria-current]{background:var(--accent);color:#fff;border-color:var(--accent)}
        .panel{background:var(--card);border:1px solid var(--line);border-radius:.6rem;padding:1rem;margin:0 0 1rem}
        .grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr))}
        .stats{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;margin:.25rem 0}.stats b{font-size:1.3rem;display:block}
        form.stack label,fieldset label{display:block;margin:.6rem 0}
        label small{display:block;color:var(--muted);font-size:.85rem}
        input,select,textarea,button{font:inherit}
        input[type=text],input[type=search],input[type=number],input[type=email],input[type=datetime-local],input[type=file],select{
        display:block;width:100%;max-width:28rem;margin-top:.2rem;padding:.55rem .6rem;border:1px solid #aab3bd;border-radius:.4rem;background:#fff}
        button,.button{display:inline-block;padding:.6rem 1.1rem;border-radius:.5rem;border:1px solid var(--accent);background:var(--accent);
        color:#fff;text-decoration:none;cursor:pointer;min-height:2.75rem}
        button.secondary,.button.secondary{background:#fff;color:var(--accent)}
        button.danger{background:var(--bad);border-color:var(--bad)}
        .inline{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}.inline label{margin:0}
        .error{background:var(--bad-bg);color:var(--bad);border:1px solid #f3b7b3;padding:.6rem .8rem;border-radius:.4rem}
        .notice{background:var(--ok-bg);border:1px solid #a6dcb5;padding:.6rem .8rem;border-radius:.4rem}
        .muted{color:var(--muted)}
        table{border-collapse:collapse;width:100%;background:var(--card)}
        th,td{padding:.45rem .6rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
        th{font-size:.85rem;color:var(--muted);font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
        .badge{display:inline-block;padding:.1rem .5rem;border-radius:999px;font-size:.85rem;font-weight:600;background:#eef1f4}
        .badge.ok{background:var(--ok-bg);color:var(--ok)}.badge.warn{background:var(--warn-bg);color:var(--warn)}
        .badge.bad{background:var(--bad-bg);color:var(--bad)}
        .bars{display:flex;align-items:flex-end;gap:2px;height:6rem;border-bottom:1px solid var(--line);padding-top:.5rem}
        .bars span{flex:1;background:var(--accent);min-height:1px;height:0}
        .bars .h1{height:10%}.bars .h2{height:20%}.bars .h3{height:30%}.bars .h4{height:40%}.bars .h5{height:50%}
        .bars .h6{height:60%}.bars .h7{height:70%}.bars .h8{height:80%}.bars .h9{height:90%}.bars .h10{height:100%}
        /* Tables become stacked cards on a phone: each cell says what it is. */
        @media (max-width:40rem){
        table.cards thead{display:none}table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
        table.cards tr{border:1px solid var(--line);border-radius:.5rem;margin:0 0 .6rem;padding:.3rem .2rem;background:var(--card)}
        table.cards td{border:0;padding:.2rem .6rem}table.cards td.n{text-align:left}
        table.cards td[data-label]::before{content:attr(data-label) ": ";color:var(--muted);font-size:.85rem}
        main{padding:.75rem}}
        /* Printable sheets: cards in a grid, several to an A4 page, none split across pages. */
        .sheet{display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:.6rem}
        /* A card is a column of bounded parts: the event (two lines at most), the date, the code's
        picture, number and type, the holder (one line), and the code's text, always inside. */
        .ticket-card{border:1px dashed #8b95a1;border-radius:.4rem;padding:.6rem;background:#fff;break-inside:avoid;page-break-inside:avoid;
        text-align:center;display:flex;flex-direction:column;align-items:center;overflow:hidden;min-width:0}
        .ticket-card>*{max-width:100%;min-width:0}
        .ticket-card img{width:10rem;height:10rem;image-rendering:pixelated;flex:none}
        .ticket-card .event{font-weight:700;overflow-wrap:anywhere;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}
        .ticket-card .when,.ticket-card .holder{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;width:100%}
        .ticket-card .when:empty,.ticket-card .holder:empty{display:none}
        .ticket-card .line{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;width:100%}
        .ticket-card .code{font-size:.62rem;word-break:break-all;overflow-wrap:anywhere;display:block;margin-top:.3rem;width:100%}
        .ticket-card .code.one-line{white-space:nowrap;word-break:normal;font-size:.58rem;letter-spacing:-.02em}
        @page{size:A4;margin:10mm}
        @media print{.menu,.noprint,h1{display:none}body,main{background:#fff;padding:0;margin:0;max-width:none}
        .sheet{grid-template-columns:repeat(3,minmax(0,1fr));gap:4mm}
        .ticket-card{height:62mm;padding:2mm;font-size:8pt;line-height:1.25;justify-content:flex-start}
        .ticket-card .when{font-size:7pt}
        .ticket-card img{width:32mm;height:32mm;margin:1mm 0}
        .ticket-card .code{font-size:5.5pt;line-height:1.15;margin-top:.8mm}.ticket-card .code.one-line{font-size:5.2pt}}
        /* The staff scanner: one thumb, arm's length. */
        .scanner main{max-width:32rem;padding:.75rem}
        .scan-status{border-radius:.8rem;padding:1rem;margin:.75rem 0;text-align:center;border:3px solid var(--line);background:var(--card)}
        .scan-status .badge{font-size:1.6rem;padding:.4rem 1rem;display:inline-block}
        /* A long name takes two lines at most: Confirm stays on the screen. */
        .scan-status .holder{font-size:2rem;font-weight:700;margin:.5rem 0 .2rem;overflow-wrap:anywhere;line-height:1.2;
        display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}
        .scan-status .number{font-size:1.25rem}
        /* Checked in: solid green and a tick. Valid but not yet checked in: amber, dashed, asking. */
        .scan-status.valid{border-color:var(--ok);background:var(--ok);color:#fff}.scan-status.valid .badge.ok{background:#fff;color:var(--ok);font-size:2rem}
        .scan-status.pending{border:4px dashed var(--warn);background:var(--warn-bg)}
        .badge.pending{background:var(--warn);color:#fff}.scan-status .instruction{font-size:1.2rem;font-weight:700;margin:.4rem 0 0}
        .scan-status.refused{border-color:var(--bad);background:var(--bad-bg)}
        .scan-status.used{border-color:var(--warn);background:var(--warn-bg)}
        .scan-status.stale{border-color:var(--muted);background:#eef1f4}
        .scan-status .previous{font-weight:700;color:var(--bad);margin:0 0 .5rem}
        .scan-actions{display:grid;gap:.6rem;grid-template-columns:1fr 1fr;position:sticky;bottom:0;background:var(--bg);padding:.4rem 0}
        .scan-actions button{min-height:3.5rem;font-size:1.15rem}
        .scan-actions .wide{grid-column:1 / -1}
        .scan-footer{margin-top:2.5rem;border-top:1px solid var(--line);padding-top:1rem}
        button.small{min-height:2.25rem;padding:.35rem .8rem;font-size:.9rem}
        .banner{padding:.6rem .8rem;border-radius:.4rem;font-weight:600;margin:.5rem 0}
        .banner.offline{background:var(--bad);color:#fff}
        video.viewfinder{width:100%;max-height:45vh;object-fit:cover;border-radius:.6rem;background:#000}
        #pairing-code{font-size:2rem;letter-spacing:.08em;font-weight:700}
        #detail-box dt{color:var(--muted);font-size:.85rem}#detail-box dd{margin:0 0 .4rem;font-size:1.1rem;overflow-wrap:anywhere}
        [hidden]{display:none!important}
        """#
}
